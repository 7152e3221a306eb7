// How long one sweep tick takes over N registered streams (each with a small, young buffer: the
// sweep reads each and enqueues nothing), this build's sweep against another build's, alternating
// on one Redis. Not a scenario of `make bench`; an analysis of what a tick costs as streams grow.
// Usage: node bench/analysis/sweep-streams.mjs <other build's apps/flusher/dist/sweep.js> [N, default 20000] [rounds, default 3]
import { pathToFileURL } from 'node:url';
import { defineSpoolCommands, FLUSH_QUEUE, loadConfig, queuePrefix, redisNow } from '@spool/shared';
import { Queue } from 'bullmq';
import { createFlusherMetrics } from '../../apps/flusher/dist/metrics.js';
import { sweep as thisSweep } from '../../apps/flusher/dist/sweep.js';
import { registerSmallStreams, startStack, stopAll } from '../lib.mjs';

const [otherPath, count = '20000', rounds = '3'] = process.argv.slice(2);
if (!otherPath)
  throw new Error('usage: node bench/analysis/sweep-streams.mjs <other build sweep.js> [N] [rounds]');
const { sweep: otherSweep } = await import(pathToFileURL(otherPath).href);
const N = Number(count);
/** The sweep's logger, saying nothing. */
const silent = { info() {}, warn() {}, error() {}, debug() {} };
const { redis, url } = await startStack();
defineSpoolCommands(redis);
const namespace = 'sweepbench';
const config = loadConfig({ REDIS_URL: url, S3_BUCKET: 'bench', REDIS_NAMESPACE: namespace }, 'flusher');
const queueConnection = redis.duplicate({ maxRetriesPerRequest: null });
const queue = new Queue(FLUSH_QUEUE, { connection: queueConnection, prefix: queuePrefix(namespace) });
try {
  await registerSmallStreams(redis, namespace, N, await redisNow(redis));
  const deps = {
    config,
    redis,
    s3: undefined,
    queue,
    logger: silent,
    metrics: createFlusherMetrics(),
  };
  for (let round = 0; round < Number(rounds); round += 1) {
    for (const [name, run] of [
      ['this build', thisSweep],
      ['the other build', otherSweep],
    ]) {
      const started = performance.now();
      const result = await run(deps);
      console.log(
        `${name.padEnd(16)} ${N} streams: ${(performance.now() - started).toFixed(0)} ms (${result.streams} visited, ${result.enqueued.length} enqueued)`,
      );
    }
  }
} finally {
  await queue.close();
  queueConnection.disconnect();
  redis.disconnect();
  await stopAll();
}
