// The ingest's CPU per request (user + system time of its process, from /proc, around each load)
// for two builds, alternating, on single-event requests at 100 connections: a steadier measure
// than throughput on a shared, noisy machine, since it does not depend on what else gets the
// cores. Not a scenario of `make bench`; an analysis for A/B runs of the request path. With
// `bare` for the other build, the other side is scenario a's baseline (bare Fastify parsing the
// same body and answering 202): what Spool's request path costs beyond Fastify's.
// With `events` above 1, each request is a batch of that many of the event (250: some 20 KB, a
// body counted as it arrives, past the 16 KiB a request holds before its body comes).
// With LOG_LEVEL set, both builds run at that level (the stack's services run at warn otherwise).
// Usage: [LOG_LEVEL=info] node bench/analysis/ingest-cpu-per-request.mjs <other build's apps/ingest/dist/main.js | bare> [rounds] [events]
import { join } from 'node:path';
import { cpuSeconds, load, ROOT, startBareFastifyProcess, startStack, stopAll } from '../lib.mjs';

const [other, rounds = '3', events = '1'] = process.argv.slice(2);
if (!other) {
  console.error(
    'usage: node bench/analysis/ingest-cpu-per-request.mjs <other main.js | bare> [rounds] [events]',
  );
  process.exit(2);
}
const BUILDS = { this: join(ROOT, 'apps/ingest/dist/main.js'), other };
const event = { event: 'page', userId: 'u-123', path: '/pricing', referrer: 'https://example.com/' };
const body = JSON.stringify(Number(events) > 1 ? Array.from({ length: Number(events) }, () => event) : event);
const levelAsked = process.env.LOG_LEVEL ? { LOG_LEVEL: process.env.LOG_LEVEL } : {};
async function spoolIngest(bench, main) {
  const ingest = await bench.stack.addIngest(
    // LOG_LEVEL=info measures the default's request log; the stack's services run at warn otherwise.
    { FLUSH_THRESHOLD_BYTES: '480MiB', MAX_BUFFER_BYTES: '512MiB', ...levelAsked },
    { main },
  );
  return { url: ingest.url, pid: ingest.process.pid };
}

const results = { this: [], other: [] };
for (let round = 0; round < Number(rounds); round++) {
  for (const [name, main] of Object.entries(BUILDS)) {
    const bench = await startStack();
    const { url: base, pid } =
      main === 'bare' ? await startBareFastifyProcess() : await spoolIngest(bench, main);
    const url = `${base}/v1/streams/bench-cpu/events`;
    await load(url, { body, seconds: 2 }); // warm up
    const before = cpuSeconds(pid);
    const result = await load(url, { body, seconds: 6 });
    const micros = ((cpuSeconds(pid) - before) * 1e6) / (result.requestsPerSecond * 6);
    results[name].push(micros);
    console.log(
      `${name.padEnd(6)} ${result.requestsPerSecond} req/s, ${micros.toFixed(1)} µs of CPU a request`,
    );
    bench.redis.disconnect();
    await stopAll();
  }
}
for (const [name, values] of Object.entries(results)) {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  console.log(`${name}: mean ${mean.toFixed(1)} µs of CPU a request`);
}
