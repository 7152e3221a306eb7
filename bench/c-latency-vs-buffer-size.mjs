// c. Latency against buffer size: p50/p99 of single-event requests with the stream's buffer
//    pre-filled to 0, 100 MB and 400 MB, against the same measurement on a BITCOUNT-based handler.
//    Target: spool's p99 at 400 MB <= 1.2 x its p99 at 0 MB.
import { join } from 'node:path';
import { freePort, load, markdown, ROOT, start, startIngest, startStack, storedLine, until } from './lib.mjs';

const MB = 1_000_000;

async function prefill(redis, key, bytes) {
  await redis.del(key);
  const chunk = Array.from({ length: 4 * 1024 }, (_, i) => storedLine(i, 256)).join('');
  for (let written = 0; written < bytes; written += chunk.length) await redis.append(key, chunk);
}

export async function run({ seconds = 8, connections = 20 } = {}) {
  const redis = await startStack();
  const ingest = await startIngest(redis);
  const naivePort = await freePort();
  start(process.execPath, [join(ROOT, 'bench/baselines/bitcount-ingest.mjs')], {
    PORT: String(naivePort),
    REDIS_URL: redis.url,
  });
  const naive = `http://127.0.0.1:${naivePort}`;
  await until('naive ingest', async () => (await fetch(naive)).status > 0);
  const body = JSON.stringify({ event: 'page', userId: 'u-123', path: '/pricing' });

  const rows = [];
  const results = [];
  for (const size of [0, 100 * MB, 400 * MB]) {
    await prefill(redis.redis, 'spool:{bench-c}:buf', size);
    const spool = await load(`${ingest}/v1/streams/bench-c/events`, { body, seconds, connections });
    await redis.redis.del('spool:{bench-c}:buf');
    await prefill(redis.redis, 'naive:{bench-c}:buf', size);
    const bitcount = await load(`${naive}/v1/streams/bench-c/events`, { body, seconds, connections });
    await redis.redis.del('naive:{bench-c}:buf');
    results.push({ bufferBytes: size, spool, bitcount });
    rows.push([
      `${size / MB} MB`,
      spool.requestsPerSecond,
      spool.p50,
      spool.p99,
      bitcount.requestsPerSecond,
      bitcount.p50,
      bitcount.p99,
    ]);
  }
  const ratio = results[2].spool.p99 / Math.max(results[0].spool.p99, 1);
  redis.redis.disconnect();
  return {
    name: 'c. latency against buffer size',
    target: 'spool p99 at 400 MB <= 1.2 x p99 at 0 MB',
    ratio,
    met: ratio <= 1.2,
    results,
    markdown: markdown(
      `c. Latency against buffer size (single-event requests, ${connections} connections)`,
      [
        'buffer',
        'spool req/s',
        'spool p50 ms',
        'spool p99 ms',
        'BITCOUNT req/s',
        'BITCOUNT p50 ms',
        'BITCOUNT p99 ms',
      ],
      [...rows, ['spool p99 400 MB / 0 MB (target <= 1.2)', '', '', ratio.toFixed(2), '', '', '']],
    ),
  };
}
