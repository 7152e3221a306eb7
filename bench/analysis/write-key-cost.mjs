// What checking a write key costs the ingest: its CPU per single-event request (from /proc, as
// ingest-cpu-per-request.mjs) on an open service, and on keyed ones with 1 and with 1,000 keys
// configured, each request presenting the last key as `Authorization: Bearer`. Two builds,
// alternating, so each keyed figure has its own build's open service beside it as the baseline.
// Not a scenario of `make bench`; an analysis for A/B runs of the key check.
// Usage: node bench/analysis/write-key-cost.mjs <other build's apps/ingest/dist/main.js> [rounds]
import { join } from 'node:path';
import { cpuSeconds, load, ROOT, startStack, stopAll } from '../lib.mjs';

const [other, rounds = '2'] = process.argv.slice(2);
if (!other) {
  console.error('usage: node bench/analysis/write-key-cost.mjs <other main.js> [rounds]');
  process.exit(2);
}
const BUILDS = { this: join(ROOT, 'apps/ingest/dist/main.js'), other };
const body = JSON.stringify({ event: 'page', userId: 'u-123', path: '/pricing' });
const keys = (count) =>
  Array.from({ length: count }, (_, index) => `bench-write-key-${String(index).padStart(5, '0')}`);
const SETUPS = {
  open: { env: { ALLOW_ANONYMOUS_WRITES: 'true' }, headers: {} },
  '1 key': { env: { WRITE_KEYS: `${keys(1)[0]}:*` }, headers: { authorization: `Bearer ${keys(1)[0]}` } },
  '1,000 keys': {
    env: {
      WRITE_KEYS: keys(1000)
        .map((key) => `${key}:*`)
        .join(';'),
    },
    headers: { authorization: `Bearer ${keys(1000).at(-1)}` },
  },
};

const results = {};
for (let round = 0; round < Number(rounds); round++) {
  for (const [setup, { env, headers }] of Object.entries(SETUPS)) {
    for (const [build, main] of Object.entries(BUILDS)) {
      const bench = await startStack();
      const ingest = await bench.stack.addIngest(
        { FLUSH_THRESHOLD_BYTES: '480MiB', MAX_BUFFER_BYTES: '512MiB', ...env },
        { main },
      );
      const url = `${ingest.url}/v1/streams/bench-keys/events`;
      await load(url, { body, headers, seconds: 2 }); // warm up
      const before = cpuSeconds(ingest.process.pid);
      const result = await load(url, { body, headers, seconds: 6 });
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`${setup}, ${build}: failed requests`);
      const micros = ((cpuSeconds(ingest.process.pid) - before) * 1e6) / (result.requestsPerSecond * 6);
      const name = `${setup}, ${build}`;
      results[name] = [...(results[name] ?? []), micros];
      console.log(
        `${setup.padEnd(10)} ${build.padEnd(5)} ${result.requestsPerSecond} req/s, ${micros.toFixed(1)} µs of CPU a request`,
      );
      bench.redis.disconnect();
      await stopAll();
    }
  }
}
for (const [name, values] of Object.entries(results)) {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  console.log(`${name}: mean ${mean.toFixed(1)} µs of CPU a request`);
}
