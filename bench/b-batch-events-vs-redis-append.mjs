// b. Ingest throughput with 100 events per request, in events/s, against redis-benchmark's
//    unpipelined APPEND ops/s on the same machine. Target: >= 5 x redis-benchmark.
import { execFileSync } from 'node:child_process';
import { load, markdown, startIngest, startStack } from './lib.mjs';

export async function run({ seconds = 10 } = {}) {
  const redis = await startStack();
  const ingest = await startIngest(redis);
  const line = 'x'.repeat(146);
  const output = execFileSync(
    'redis-benchmark',
    ['-p', String(redis.port), '-n', '200000', '-c', '50', '-q', 'APPEND', 'bench:b:key', line],
    {
      encoding: 'utf8',
    },
  );
  const appendOps = Number(/([\d.]+) requests per second/.exec(output)?.[1] ?? 0);
  const events = Array.from({ length: 100 }, (_, i) => ({
    event: 'page',
    userId: `u-${i}`,
    path: '/pricing',
  }));
  const spool = await load(`${ingest}/v1/streams/bench-b/events`, { body: JSON.stringify(events), seconds });
  const eventsPerSecond = spool.requestsPerSecond * 100;
  const ratio = eventsPerSecond / appendOps;
  redis.redis.disconnect();
  return {
    name: 'b. 100 events per request',
    target: 'spool events/s >= 5 x redis-benchmark APPEND ops/s (50 clients, unpipelined)',
    ratio,
    met: ratio >= 5,
    appendOps,
    spool: { ...spool, eventsPerSecond },
    markdown: markdown(
      'b. Batched ingest vs redis-benchmark APPEND',
      ['', 'ops or events/s', 'p50 ms', 'p99 ms'],
      [
        ['redis-benchmark APPEND (50 clients, unpipelined)', Math.round(appendOps), '', ''],
        ['spool ingest, 100 events/request (100 connections)', eventsPerSecond, spool.p50, spool.p99],
        ['ratio (target >= 5)', ratio.toFixed(1), '', ''],
      ],
    ),
  };
}
