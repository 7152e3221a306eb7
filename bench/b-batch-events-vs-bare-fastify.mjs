// b. Ingest throughput with 100 events per request at 100 connections, against the bare Fastify
//    route parsing the same bodies and answering 202 without Redis. Target: >= 0.6 x bare
//    Fastify. Reported beside it, not a target: events/s against redis-benchmark's unpipelined
//    APPEND ops/s, a ratio that moves between machines (5.6 x here once, 3.5 x on a slower
//    2-core one). Three rounds of bare, Spool (5 s each) share the machine's drift.
import { execFileSync } from 'node:child_process';
import { alternate, markdown, startBareFastify, startIngest, startStack } from './lib.mjs';

const TARGET = 0.6;
const EVENTS = 100;

function redisBenchmarkAppendOps(port) {
  const output = execFileSync(
    'redis-benchmark',
    ['-p', String(port), '-n', '200000', '-c', '50', '-q', 'APPEND', 'bench:b:key', 'x'.repeat(146)],
    { encoding: 'utf8' },
  );
  return Number(/([\d.]+) requests per second/.exec(output)?.[1] ?? 0);
}

export async function run({ rounds = 3, seconds = 5 } = {}) {
  const redis = await startStack();
  const ingest = await startIngest(redis);
  const bare = await startBareFastify();
  const body = JSON.stringify(
    Array.from({ length: EVENTS }, (_, i) => ({ event: 'page', userId: `u-${i}`, path: '/pricing' })),
  );
  const path = '/v1/streams/bench-b/events';
  const [baseline, spool] = await alternate(
    redis,
    [
      { url: `${bare}${path}`, body },
      { url: `${ingest}${path}`, body, stream: 'bench-b' },
    ],
    { rounds, seconds },
  );
  const ratio = spool.requestsPerSecond / baseline.requestsPerSecond;
  const appendOps = redisBenchmarkAppendOps(redis.port);
  const eventsPerSecond = spool.requestsPerSecond * EVENTS;
  redis.redis.disconnect();
  return {
    name: `b. ${EVENTS} events per request, 100 connections`,
    target: `spool >= ${TARGET} x bare Fastify`,
    ratio,
    met: ratio >= TARGET,
    baseline,
    spool: { ...spool, eventsPerSecond },
    appendOps,
    markdown: markdown(
      `b. Batched ingest vs bare Fastify (${EVENTS} events per request, 100 connections)`,
      ['', 'req/s', 'events/s', 'p50 ms', 'p99 ms'],
      [
        [
          'bare Fastify (parses, no Redis)',
          baseline.requestsPerSecond,
          baseline.requestsPerSecond * EVENTS,
          baseline.p50,
          baseline.p99,
        ],
        ['spool ingest', spool.requestsPerSecond, eventsPerSecond, spool.p50, spool.p99],
        [`ratio (target >= ${TARGET})`, ratio.toFixed(2), '', '', ''],
        [
          'reported: spool events/s ÷ redis-benchmark APPEND ops/s (50 clients, unpipelined)',
          '',
          `${(eventsPerSecond / appendOps).toFixed(1)} × (${Math.round(appendOps)} ops/s)`,
          '',
          '',
        ],
      ],
    ),
  };
}
