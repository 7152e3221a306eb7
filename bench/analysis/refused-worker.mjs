// What a flusher costs while Redis refuses its writes (OOM at maxmemory) with flush jobs waiting:
// its CPU and the commands it sends Redis, over 10 s, this build against another build's
// flusher, alternating. BullMQ's worker asks for the next job again at once after a refusal;
// Spool's rests a second (apps/flusher/src/rest-after-refusal.ts). Not a scenario of `make
// bench`; an analysis of a Redis incident (docs/operations.md, SpoolSweepFailing).
// Usage: node bench/analysis/refused-worker.mjs <other build's apps/flusher/dist/main.js> [rounds, default 2]
import { addFlushJob, FLUSH_QUEUE, queuePrefix } from '@spool/shared';
import { Queue } from 'bullmq';
import { cpuSeconds, startStack, stopAll } from '../lib.mjs';

const [other, rounds = '2'] = process.argv.slice(2);
if (!other) throw new Error('usage: node bench/analysis/refused-worker.mjs <other build main.js> [rounds]');
const SECONDS = 10;

const commands = async (redis) => Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))[1]);

async function measure(main) {
  const bench = await startStack({ s3: true });
  try {
    const queue = new Queue(FLUSH_QUEUE, { connection: bench.redis, prefix: queuePrefix() });
    for (let i = 0; i < 5; i += 1) await addFlushJob(queue, `refused-${i}`, 1);
    await queue.close();
    await bench.redis.config('SET', 'maxmemory', '1');
    const flusher = await bench.stack.addFlusher({}, { main });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const [cpu0, commands0] = [cpuSeconds(flusher.process.pid), await commands(bench.redis)];
    await new Promise((resolve) => setTimeout(resolve, SECONDS * 1_000));
    const [cpu1, commands1] = [cpuSeconds(flusher.process.pid), await commands(bench.redis)];
    await bench.redis.config('SET', 'maxmemory', '0');
    return {
      cpuShare: (cpu1 - cpu0) / SECONDS,
      commandsPerSecond: Math.round((commands1 - commands0) / SECONDS),
    };
  } finally {
    await stopAll();
  }
}

const thisBuild = new URL('../../apps/flusher/dist/main.js', import.meta.url).pathname;
for (let round = 1; round <= Number(rounds); round += 1) {
  for (const [name, main] of [
    ['other build', other],
    ['this build', thisBuild],
  ]) {
    const { cpuShare, commandsPerSecond } = await measure(main);
    console.log(
      `round ${round} ${name.padEnd(12)} flusher CPU ${(cpuShare * 100).toFixed(0).padStart(3)} % of a core, Redis commands ${String(commandsPerSecond).padStart(6)}/s`,
    );
  }
}
