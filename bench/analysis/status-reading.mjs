// What one reading of the status costs over N registered streams (each with a small buffer and
// counters), this build's status reader against another build's, alternating on one Redis, each
// reading in a process of its own (run as the flusher is, `SPOOL_NODE_FLAGS`): its time, the CPU it takes from that process (the flusher's)
// and from Redis, and the process's peak RSS. Not a scenario of `make bench`; an analysis of what
// the status page costs as streams grow (docs/operations.md).
// Usage: node bench/analysis/status-reading.mjs <other build's apps/flusher/dist/status/status.js> [N, default 20000] [rounds, default 3]
import { execFileSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  connectRedis,
  defineSpoolCommands,
  FLUSH_QUEUE,
  loadConfig,
  queuePrefix,
  redisNow,
} from '@spool/shared';
import { SPOOL_NODE_FLAGS } from '@spool/testkit';
import { Queue } from 'bullmq';
import { registerSmallStreams, startStack, stopAll } from '../lib.mjs';

const namespace = 'statusbench';
const THIS_BUILD = fileURLToPath(new URL('../../apps/flusher/dist/status/status.js', import.meta.url));

if (process.env.STATUS_READING_OF) {
  // One reading, in this process: what the parent prints.
  const { statusReader } = await import(pathToFileURL(process.env.STATUS_READING_OF).href);
  const url = process.env.STATUS_READING_REDIS;
  const redis = connectRedis({ kind: 'standalone', url });
  const config = loadConfig({ REDIS_URL: url, S3_BUCKET: 'bench', REDIS_NAMESPACE: namespace }, 'flusher');
  const queueConnection = redis.duplicate({ maxRetriesPerRequest: null });
  const queue = new Queue(FLUSH_QUEUE, { connection: queueConnection, prefix: queuePrefix(namespace) });
  await queue.getJobCounts(); // connected before the clock starts
  const cpu = process.cpuUsage();
  const started = performance.now();
  const status = await statusReader({ redis, queue, config })(50);
  const took = performance.now() - started;
  const used = process.cpuUsage(cpu);
  console.log(
    JSON.stringify({
      streams: status.totals.streams,
      ms: took,
      cpuMs: (used.user + used.system) / 1000,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    }),
  );
  await queue.close();
  queueConnection.disconnect();
  redis.disconnect();
  process.exit(0);
}

const [otherPath, count = '20000', rounds = '3'] = process.argv.slice(2);
if (!otherPath)
  throw new Error('usage: node bench/analysis/status-reading.mjs <other build status.js> [N] [rounds]');
const N = Number(count);
const { redis, url } = await startStack();
defineSpoolCommands(redis);

async function redisCpuMs() {
  const info = await redis.info('cpu');
  const seconds = (name) => Number(info.match(new RegExp(`${name}:([\\d.]+)`))?.[1] ?? 0);
  return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1000;
}

try {
  await registerSmallStreams(redis, namespace, N, await redisNow(redis));
  for (let round = 0; round < Number(rounds); round += 1) {
    for (const [name, build] of [
      ['this build', THIS_BUILD],
      ['the other build', otherPath],
    ]) {
      const redisBefore = await redisCpuMs();
      const out = execFileSync(
        process.execPath,
        [...SPOOL_NODE_FLAGS.flusher, fileURLToPath(import.meta.url)],
        {
          env: { ...process.env, STATUS_READING_OF: build, STATUS_READING_REDIS: url },
          encoding: 'utf8',
        },
      );
      const redisUsed = (await redisCpuMs()) - redisBefore;
      const reading = JSON.parse(out.trim().split('\n').at(-1));
      if (reading.streams !== N) throw new Error(`${name} counted ${reading.streams} streams, not ${N}`);
      console.log(
        `${name.padEnd(16)} ${N} streams: ${reading.ms.toFixed(0)} ms, its process ${reading.cpuMs.toFixed(0)} ms CPU and ${reading.peakRssMiB.toFixed(0)} MiB peak RSS, Redis ${redisUsed.toFixed(0)} ms CPU`,
      );
    }
  }
} finally {
  redis.disconnect();
  await stopAll();
}
