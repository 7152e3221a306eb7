// A flusher's memory under stream names that keep changing (new names every second, as
// per-tenant or per-campaign streams do), beside a flusher whose streams never change, in the same
// run on one Redis and S3 (two namespaces, an ingest and a flusher each). Every minute: each
// flusher's RSS, its JS heap in use and external memory (its /metrics), and its stream registry.
// The registry of the changing one grows until streams are forgotten (max(1 h, 4 x
// FLUSH_INTERVAL) idle): its sweep's work, and the allocator's high-water mark with it, grows that
// long, then levels (docs/reliability.md, "Soak"). Not a scenario of `make bench`.
// The changing side starts with the registry such a load holds after that hour (new names a
// second x 3,600, idle, registered over the past hour, each with its counters and generation), so
// a run of 40 minutes shows the level; `prefill 0` starts it empty (then run past 60 minutes).
// Usage: node bench/analysis/flusher-rss-stream-churn.mjs [minutes, default 40] [new names a second, default 3] [prefill, default 1]
import { streamKeys, streamRegistryKey } from '@spool/shared';
import { markdown, rssMiB, startStack, stopAll } from '../lib.mjs';

const [minutes = 40, newPerSecond = 3, prefill = 1] = process.argv.slice(2).map(Number);
/** Streams both sides write to every second, 3 events a request. */
const FIXED_STREAMS = 20;

const bench = await startStack({ s3: true });
if (prefill) {
  const hourMs = 3_600_000;
  const count = newPerSecond * 3_600;
  const now = Date.now();
  for (let first = 0; first < count; first += 1_000) {
    const batch = bench.redis.pipeline();
    for (let i = first; i < Math.min(count, first + 1_000); i += 1) {
      const stream = `old-${i}`;
      const keys = streamKeys(stream, 'churn');
      batch.zadd(
        streamRegistryKey('churn'),
        now - hourMs + 60_000 + Math.floor((i * (hourMs - 60_000)) / count),
        stream,
      );
      batch.hset(keys.stats, {
        accepted: 3,
        landed: 3,
        acceptedBytes: 700,
        releasedGen: 0,
        releasedBytes: 700,
      });
      batch.set(keys.gen, 1);
    }
    await batch.exec();
  }
}
const sides = [];
for (const namespace of ['churn', 'fixed']) {
  const env = { REDIS_NAMESPACE: namespace, FLUSH_INTERVAL: '5s' };
  const ingest = await bench.stack.addIngest(env);
  const flusher = await bench.stack.addFlusher(env);
  sides.push({ namespace, ingest: ingest.url, flusher, rows: [] });
}

const event = (stream, n) => ({
  event: 'soak',
  properties: { stream, n, at: Date.now(), pad: 'x'.repeat(200) },
});
let newNames = 0;
let refused = 0;
const send = (url, stream) =>
  fetch(`${url}/v1/streams/${stream}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([0, 1, 2].map((n) => event(stream, n))),
  })
    .then(async (answer) => {
      await answer.arrayBuffer();
      if (answer.status !== 202) refused += 1;
    })
    .catch(() => {
      refused += 1;
    });
const loader = setInterval(() => {
  for (const side of sides) {
    for (let f = 0; f < FIXED_STREAMS; f += 1) void send(side.ingest, `fixed-${f}`);
  }
  const churn = sides[0];
  for (let n = 0; n < newPerSecond; n += 1) void send(churn.ingest, `new-${(newNames++).toString(36)}`);
}, 1_000);

/** A gauge of the flusher's /metrics, in MiB. */
const gauge = (text, name) =>
  Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN) / 2 ** 20;
const started = Date.now();
for (let minute = 1; minute <= minutes; minute += 1) {
  await new Promise((resolve) => setTimeout(resolve, started + minute * 60_000 - Date.now()));
  for (const side of sides) {
    const metrics = await (await fetch(`${side.flusher.url}/metrics`)).text();
    side.rows.push([
      minute,
      rssMiB(side.flusher.process.pid).toFixed(1),
      gauge(metrics, 'spool_flusher_nodejs_heap_size_used_bytes').toFixed(1),
      gauge(metrics, 'spool_flusher_nodejs_external_memory_bytes').toFixed(1),
      await bench.redis.zcard(streamRegistryKey(side.namespace)),
    ]);
  }
  process.stderr.write(
    `minute ${minute}: ${sides.map((s) => `${s.namespace} ${s.rows.at(-1)[1]} MiB`).join(', ')}\n`,
  );
}
clearInterval(loader);

/** MiB a minute between two minutes' RSS samples. */
const slope = (rows, from, to) =>
  ((Number(rows[to - 1][1]) - Number(rows[from - 1][1])) / (to - from)).toFixed(2);
for (const side of sides) {
  markdown(
    `${side.namespace}: ${side.namespace === 'churn' ? `${newPerSecond} new stream names a second and ` : ''}${FIXED_STREAMS} fixed streams`,
    ['minute', 'RSS MiB', 'heap used MiB', 'external MiB', 'registered streams'],
    side.rows.filter(([minute]) => minute % 5 === 0 || minute === 1 || minute === minutes),
  );
  const third = Math.floor(minutes / 3);
  if (third < 2) continue;
  process.stdout.write(
    `RSS MiB a minute: ${slope(side.rows, 1, third)} over minutes 1-${third}, ${slope(side.rows, minutes - third, minutes)} over ${minutes - third}-${minutes}\n\n`,
  );
}
process.stdout.write(`${newNames} new names; ${refused} requests not answered 202\n`);
bench.redis.disconnect();
await stopAll();
