// What one request costs the ingest (its CPU from /proc around a load) as a setting or a client
// grows, each case beside its baseline in the same run, alternating; optionally this build beside
// another (`--other <apps/ingest/dist/main.js>`). Not a scenario of `make bench`: the analyses
// behind "Costs that grew with a setting, a client or the number of streams" in docs/benchmarks.md.
// Usage: node bench/analysis/setting-costs.mjs <forwarded-for | ip-policy | key-streams | streams> [rounds] [--other main.js]
import { join } from 'node:path';
import autocannon from 'autocannon';
import { cpuSeconds, load, ROOT, startStack, stopAll } from '../lib.mjs';

const args = process.argv.slice(2);
const otherAt = args.indexOf('--other');
const other = otherAt === -1 ? undefined : args.splice(otherAt, 2)[1];
const [mode, rounds = '2'] = args;
const BUILDS = { this: join(ROOT, 'apps/ingest/dist/main.js'), ...(other ? { other } : {}) };

const single = JSON.stringify({ event: 'page', userId: 'u-123', path: '/pricing' });
const track = JSON.stringify({ userId: 'u-123', event: 'Signed Up', properties: { plan: 'pro' } });
const batch = JSON.stringify({
  batch: Array.from({ length: 100 }, (_, i) => ({ type: 'track', userId: `u-${i}`, event: 'Signed Up' })),
});
/** A client's own hops, then the address the trusted proxy (loopback) appended. */
const forwardedFor = (hops) =>
  [...Array.from({ length: hops - 1 }, (_, i) => `198.51.${(i >> 8) & 255}.${i & 255}`), '203.0.113.5'].join(
    ', ',
  );
const basic = (key) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
const manyStreams = Array.from({ length: 10_000 }, (_, i) => `s${i}`).join(',');

/** Each case: the ingest's settings, and what is sent (`streams`: single events round-robin over that many). */
const CASES = {
  'forwarded-for': {
    'no TRUST_PROXY, 800 hops, native': [
      {},
      { path: '/v1/streams/web/events', body: single, headers: { 'x-forwarded-for': forwardedFor(800) } },
    ],
    'TRUST_PROXY, 1 hop, native': [
      { TRUST_PROXY: 'loopback' },
      { path: '/v1/streams/web/events', body: single, headers: { 'x-forwarded-for': forwardedFor(1) } },
    ],
    'TRUST_PROXY, 800 hops, native': [
      { TRUST_PROXY: 'loopback' },
      { path: '/v1/streams/web/events', body: single, headers: { 'x-forwarded-for': forwardedFor(800) } },
    ],
    'TRUST_PROXY, 800 hops, /v1/track': [
      { TRUST_PROXY: 'loopback' },
      { path: '/v1/track', body: track, headers: { 'x-forwarded-for': forwardedFor(800) } },
    ],
  },
  'ip-policy': {
    'IP_POLICY=keep, /v1/batch of 100': [
      { IP_POLICY: 'keep', DEDUPE_WINDOW: '0' },
      { path: '/v1/batch', body: batch },
    ],
    'IP_POLICY=truncate, /v1/batch of 100': [
      { IP_POLICY: 'truncate', DEDUPE_WINDOW: '0' },
      { path: '/v1/batch', body: batch },
    ],
  },
  'key-streams': {
    'a key on 1 stream, /v1/track': [
      { WRITE_KEYS: 'bench-key-0001:web' },
      { path: '/v1/track', body: track, headers: { authorization: basic('bench-key-0001') } },
    ],
    'a key on 10,000 streams, /v1/track': [
      { WRITE_KEYS: `bench-key-0001:web,${manyStreams}` },
      { path: '/v1/track', body: track, headers: { authorization: basic('bench-key-0001') } },
    ],
  },
  streams: Object.fromEntries(
    [1, 11_000, 20_000].map((count) => [`single events over ${count} streams`, [{}, { streams: count }]]),
  ),
};
const cases = CASES[mode];
if (!cases) {
  console.error(
    'usage: node bench/analysis/setting-costs.mjs <forwarded-for | ip-policy | key-streams | streams> [rounds] [--other main.js]',
  );
  process.exit(2);
}

/** Single events, the n-th request to stream `s<n mod count>`. */
async function loadStreams(url, count, seconds) {
  let sent = 0;
  const result = await autocannon({
    url,
    connections: 50,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({
          ...request,
          path: `/v1/streams/s${sent++ % count}/events`,
          body: single,
        }),
      },
    ],
  });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    total: result.requests.total,
    non2xx: result.non2xx,
  };
}

/** One event to each of the streams, 500 at a time: each registered once before the load. */
async function registerEach(url, count) {
  for (let from = 0; from < count; from += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - from) }, (_, index) =>
        fetch(`${url}/v1/streams/s${from + index}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: single,
        }),
      ),
    );
  }
}

async function redisCounts(redis) {
  const cpu = (await redis.info('cpu')).match(/used_cpu_(?:user|sys):([\d.]+)/g) ?? [];
  const zadds = /cmdstat_zadd:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? '0';
  return { cpu: cpu.reduce((sum, field) => sum + Number(field.split(':')[1]), 0), zadds: Number(zadds) };
}

const results = {};
for (let round = 0; round < Number(rounds); round++) {
  for (const [name, [env, send]] of Object.entries(cases)) {
    for (const [build, main] of Object.entries(BUILDS)) {
      const bench = await startStack();
      const ingest = await bench.stack.addIngest(
        { FLUSH_THRESHOLD_BYTES: '480MiB', MAX_BUFFER_BYTES: '512MiB', ...env },
        { main },
      );
      const run = async (seconds) => {
        if (send.streams) return loadStreams(ingest.url, send.streams, seconds);
        const result = await load(`${ingest.url}${send.path}`, {
          body: send.body,
          headers: send.headers,
          connections: 50,
          seconds,
        });
        return { ...result, total: result.requestsPerSecond * seconds };
      };
      if (send.streams) await registerEach(ingest.url, send.streams); // what is measured is the cache
      await run(1); // warm up
      const [cpuBefore, redisBefore] = [cpuSeconds(ingest.process.pid), await redisCounts(bench.redis)];
      const result = await run(4);
      if (result.non2xx > 0) throw new Error(`${name}, ${build}: failed requests`);
      const redisAfter = await redisCounts(bench.redis);
      const micros = ((cpuSeconds(ingest.process.pid) - cpuBefore) * 1e6) / result.total;
      const extra = send.streams
        ? `, Redis ${(((redisAfter.cpu - redisBefore.cpu) * 1e6) / result.total).toFixed(1)} µs, ${((redisAfter.zadds - redisBefore.zadds) / result.total).toFixed(2)} registrations a request`
        : '';
      const key = other ? `${name} (${build})` : name;
      results[key] = [...(results[key] ?? []), micros];
      console.log(
        `${key.padEnd(48)} ${result.requestsPerSecond} req/s, ${micros.toFixed(1)} µs of ingest CPU a request${extra}`,
      );
      bench.redis.disconnect();
      await stopAll();
    }
  }
}
for (const [name, values] of Object.entries(results)) {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  console.log(
    `${name.padEnd(48)} mean ${mean.toFixed(1)} µs (${values.map((value) => value.toFixed(1)).join(', ')})`,
  );
}
