// Where a request's CPU goes: the CPU per request of the server (the ingest, or bare Fastify), of
// Redis (INFO cpu) and of the load generator (autocannon, in this process), sides alternating,
// at 100 connections, for scenario b's 100-event batches (or a's single events with --single).
// A side is `bare`, `spool`, or `spool:<node flags>` (the ingest run with those NODE_OPTIONS).
// Not a scenario of `make bench`: an analysis of where b's gap to bare Fastify is.
// Usage: node bench/analysis/batch-cpu-split.mjs [--single] [--rounds N] [side …]
import { parseArgs } from 'node:util';
import { cpuSeconds, drainBuffers, load, startBareFastifyProcess, startStack, stopAll } from '../lib.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { single: { type: 'boolean', default: false }, rounds: { type: 'string', default: '2' } },
});
const sides = positionals.length > 0 ? positionals : ['bare', 'spool'];
const ownSeconds = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};
async function redisSeconds(redis) {
  const info = await redis.info('cpu');
  const read = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)[1]);
  return read('used_cpu_sys') + read('used_cpu_user');
}
const event = (i) => ({ event: 'page', userId: `u-${i}`, path: '/pricing' });
const body = JSON.stringify(values.single ? event(0) : Array.from({ length: 100 }, (_, i) => event(i)));

async function startSide(bench, side) {
  if (side === 'bare') return startBareFastifyProcess();
  const flags = side.split(':')[1];
  const ingest = await bench.stack.addIngest({
    FLUSH_THRESHOLD_BYTES: '480MiB',
    MAX_BUFFER_BYTES: '512MiB',
    ...(flags ? { NODE_OPTIONS: flags } : {}),
  });
  return { url: ingest.url, pid: ingest.process.pid };
}

const totals = Object.fromEntries(sides.map((side) => [side, []]));
for (let round = 0; round < Number(values.rounds); round++) {
  for (const side of sides) {
    const bench = await startStack();
    const { url: base, pid } = await startSide(bench, side);
    const url = `${base}/v1/streams/bench-split/events`;
    const stopDraining = drainBuffers(bench, ['bench-split']);
    await load(url, { body, seconds: 2 }); // warm up
    const before = [cpuSeconds(pid), await redisSeconds(bench.redis), ownSeconds()];
    const result = await load(url, { body, seconds: 6 });
    const after = [cpuSeconds(pid), await redisSeconds(bench.redis), ownSeconds()];
    stopDraining();
    const requests = result.requestsPerSecond * 6;
    const micros = after.map((value, i) => ((value - before[i]) * 1e6) / requests);
    totals[side].push(micros);
    console.log(
      `${side.padEnd(34)} ${String(result.requestsPerSecond).padStart(6)} req/s; µs a request: ` +
        `server ${micros[0].toFixed(1)}, Redis ${micros[1].toFixed(1)}, load generator ${micros[2].toFixed(1)}`,
    );
    bench.redis.disconnect();
    await stopAll();
  }
}
for (const [side, runs] of Object.entries(totals)) {
  const mean = (i) => (runs.reduce((sum, run) => sum + run[i], 0) / runs.length).toFixed(1);
  console.log(`${side}: mean server ${mean(0)}, Redis ${mean(1)}, load generator ${mean(2)} µs a request`);
}
