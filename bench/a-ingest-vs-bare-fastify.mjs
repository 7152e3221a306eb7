// a. Ingest throughput, single-event requests at 100 connections, against a bare Fastify route
//    that parses the same JSON and answers 202 without Redis. Target: >= 0.8 x bare Fastify.
//    Three rounds of bare, Spool (5 s each) share the machine's drift.
import { alternate, markdown, startBareFastify, startIngest, startStack } from './lib.mjs';

const TARGET = 0.8;

export async function run({ rounds = 3, seconds = 5 } = {}) {
  const body = JSON.stringify({
    event: 'page',
    userId: 'u-123',
    path: '/pricing',
    referrer: 'https://example.com/',
  });
  const redis = await startStack();
  const ingest = await startIngest(redis);
  const bare = await startBareFastify();
  const path = '/v1/streams/bench-a/events';
  const [baseline, spool] = await alternate(
    redis,
    [
      { url: `${bare}${path}`, body },
      { url: `${ingest}${path}`, body, stream: 'bench-a' },
    ],
    { rounds, seconds },
  );
  const ratio = spool.requestsPerSecond / baseline.requestsPerSecond;
  redis.redis.disconnect();
  return {
    name: 'a. single-event requests, 100 connections',
    target: `spool >= ${TARGET} x bare Fastify`,
    ratio,
    met: ratio >= TARGET,
    baseline,
    spool,
    markdown: markdown(
      'a. Ingest vs bare Fastify (single-event requests, 100 connections)',
      ['', 'req/s', 'p50 ms', 'p99 ms'],
      [
        ['bare Fastify (no Redis)', baseline.requestsPerSecond, baseline.p50, baseline.p99],
        ['spool ingest', spool.requestsPerSecond, spool.p50, spool.p99],
        [`ratio (target >= ${TARGET})`, ratio.toFixed(2), '', ''],
      ],
    ),
  };
}
