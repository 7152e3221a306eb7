// What reading one flush job's state costs Redis with N flush jobs waiting: BullMQ's Job.getState
// (which reads the wait list) against Spool's flushJobState (a set lookup each, and the active
// list), alternating on one Redis. The sweep reads it for every stream with a job, each tick.
// Not a scenario of `make bench`; an analysis of the sweep's cost under a flush backlog
// (docs/design.md).
// Usage: node bench/analysis/flush-job-state.mjs [waiting jobs, default 50000] [reads a side, default 300] [rounds, default 2]
import {
  FLUSH_JOB,
  FLUSH_JOB_OPTIONS,
  FLUSH_QUEUE,
  flushJobId,
  flushJobState,
  queuePrefix,
} from '@spool/shared';
import { Queue } from 'bullmq';
import { startStack, stopAll } from '../lib.mjs';

const [waiting = 50_000, reads = 300, rounds = 2] = process.argv.slice(2).map(Number);
const bench = await startStack();
const connection = bench.redis.duplicate({ maxRetriesPerRequest: null });
const queue = new Queue(FLUSH_QUEUE, { connection, prefix: queuePrefix('statebench') });
for (let start = 0; start < waiting; start += 5_000) {
  await queue.addBulk(
    Array.from({ length: Math.min(5_000, waiting - start) }, (_, n) => ({
      name: FLUSH_JOB,
      data: { stream: `s-${start + n}`, gen: 0 },
      opts: { ...FLUSH_JOB_OPTIONS, jobId: flushJobId(`s-${start + n}`, 0) },
    })),
  );
}
async function redisCpuSeconds() {
  const info = await bench.redis.info('cpu');
  const read = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)[1]);
  return read('used_cpu_sys') + read('used_cpu_user');
}
// Jobs spread over the list: BullMQ's cost depends on where in it a job stands.
const ids = Array.from({ length: reads }, (_, n) => flushJobId(`s-${Math.floor((n * waiting) / reads)}`, 0));
const sides = {
  'BullMQ Job.getState': async (id) => (await queue.getJob(id)).getState(),
  // The sweep reads the job first either way (getJob): both sides do.
  flushJobState: async (id) => {
    await queue.getJob(id);
    return flushJobState(queue, id);
  },
};
console.log(`${waiting} flush jobs waiting; ${reads} state reads a side, one at a time`);
for (let round = 0; round < rounds; round++) {
  for (const [side, read] of Object.entries(sides)) {
    const cpu = await redisCpuSeconds();
    const started = performance.now();
    for (const id of ids)
      if ((await read(id)) !== 'waiting') throw new Error(`${side}: ${id} is not waiting`);
    const took = performance.now() - started;
    const redisMicros = ((await redisCpuSeconds()) - cpu) * 1e6;
    console.log(
      `${side.padEnd(20)} ${(took / reads).toFixed(2).padStart(8)} ms a read; Redis CPU ${(redisMicros / reads).toFixed(0).padStart(7)} µs a read`,
    );
  }
}
await queue.close();
connection.disconnect();
bench.redis.disconnect();
await stopAll();
