// a. Ingest throughput, single-event requests at 100 connections, against a bare Fastify route
//    that parses the same JSON and answers 202 without Redis. Target: >= 0.6 x bare Fastify.
import { join } from 'node:path';
import { freePort, load, markdown, ROOT, start, startIngest, startStack, until } from './lib.mjs';

export async function run({ seconds = 10 } = {}) {
  const body = JSON.stringify({
    event: 'page',
    userId: 'u-123',
    path: '/pricing',
    referrer: 'https://example.com/',
  });
  const redis = await startStack();
  const ingest = await startIngest(redis);
  const barePort = await freePort();
  start(process.execPath, [join(ROOT, 'bench/baselines/bare-fastify.mjs')], { PORT: String(barePort) });
  const bare = `http://127.0.0.1:${barePort}`;
  await until('bare fastify', async () => (await fetch(bare)).status > 0);

  const path = '/v1/streams/bench-a/events';
  const baseline = await load(`${bare}${path}`, { body, seconds });
  const spool = await load(`${ingest}${path}`, { body, seconds });
  const ratio = spool.requestsPerSecond / baseline.requestsPerSecond;
  redis.redis.disconnect();
  return {
    name: 'a. single-event requests, 100 connections',
    target: 'spool >= 0.6 x bare Fastify',
    ratio,
    met: ratio >= 0.6,
    baseline,
    spool,
    markdown: markdown(
      'a. Ingest vs bare Fastify (single-event requests, 100 connections)',
      ['', 'req/s', 'p50 ms', 'p99 ms', 'errors'],
      [
        [
          'bare Fastify (no Redis)',
          baseline.requestsPerSecond,
          baseline.p50,
          baseline.p99,
          baseline.errors + baseline.non2xx,
        ],
        ['spool ingest', spool.requestsPerSecond, spool.p50, spool.p99, spool.errors + spool.non2xx],
        ['ratio (target >= 0.6)', ratio.toFixed(2), '', '', ''],
      ],
    ),
  };
}
