// d. Flusher: time and peak RSS to flush a 256 MiB buffer to S3, against plain Node gzip of the
//    same bytes to /dev/null (the compression bound). Target: >= 0.8 x gzip throughput, peak RSS
//    under 200 MiB.
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import {
  addFlushJob,
  defineSpoolCommands,
  FLUSH_QUEUE,
  queuePrefix,
  registerStream,
  streamKeys,
  streamRegistryKey,
} from '@spool/shared';
import { Queue } from 'bullmq';
import { markdown, rssMiB, startFlusher, startStack, storedLine, until } from './lib.mjs';

const MiB = 1024 * 1024;

export async function run({ bytes = 256 * MiB } = {}) {
  const redis = await startStack({ s3: true });
  // The buffer as the ingest leaves it (its keys from the one module that builds them), filled
  // with APPEND directly: 256 MiB through HTTP would take longer than the flush it measures.
  const keys = streamKeys('bench-d');
  const key = keys.buf;
  const chunk = Array.from({ length: 16 * 1024 }, (_, i) => storedLine(i, 256)).join('');
  let lines = 0;
  for (let written = 0; written < bytes; written += chunk.length) {
    await redis.redis.append(key, chunk);
    lines += 16 * 1024;
  }
  const length = await redis.redis.strlen(key);
  await redis.redis.set(keys.since, String(Date.now()));
  await redis.redis.hset(keys.stats, 'accepted', String(lines));
  defineSpoolCommands(redis.redis);
  await registerStream(redis.redis, streamRegistryKey(), 'bench-d');

  // Baseline: the same bytes, in the same 4 MiB GETRANGE chunks, through gzip to /dev/null.
  const gzipStarted = performance.now();
  await pipeline(
    Readable.from(
      (async function* () {
        for (let start = 0; start < length; start += 4 * MiB)
          yield await redis.redis.getrangeBuffer(key, start, Math.min(start + 4 * MiB, length) - 1);
      })(),
    ),
    createGzip(),
    createWriteStream('/dev/null'),
  );
  const gzipSeconds = (performance.now() - gzipStarted) / 1000;

  // Interval and threshold past the buffer: the flusher's first sweep must not start this flush
  // before the job below (it would, at the default 32MiB threshold), or "idle" RSS and the
  // flush time would be taken mid-flush.
  const flusher = await startFlusher(redis, {
    FLUSH_INTERVAL: '10m',
    FLUSH_THRESHOLD_BYTES: '480MiB',
    MAX_BUFFER_BYTES: '512MiB',
  });
  const baselineRss = rssMiB(flusher.pid);
  let peakRss = baselineRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, rssMiB(flusher.pid));
  }, 20);
  const queue = new Queue(FLUSH_QUEUE, { connection: redis.redis, prefix: queuePrefix() });
  const flushStarted = performance.now();
  await addFlushJob(queue, 'bench-d', 0);
  await until(
    'the flush',
    async () => (await redis.redis.hget(keys.stats, 'landed')) === String(lines),
    600_000,
  );
  const flushSeconds = (performance.now() - flushStarted) / 1000;
  clearInterval(sampler);
  await queue.close();
  redis.redis.disconnect();

  const gzipMBps = length / MiB / gzipSeconds;
  const flushMBps = length / MiB / flushSeconds;
  const ratio = flushMBps / gzipMBps;
  return {
    name: 'd. flusher vs plain gzip',
    target: 'flusher >= 0.8 x gzip throughput, peak RSS < 200 MiB',
    ratio,
    met: ratio >= 0.8 && peakRss < 200,
    bytes: length,
    gzipSeconds,
    flushSeconds,
    baselineRss,
    peakRss,
    markdown: markdown(
      `d. Flushing a ${Math.round(length / MiB)} MiB buffer`,
      ['', 'seconds', 'MiB/s', 'RSS MiB'],
      [
        ['plain gzip of the same bytes to /dev/null', gzipSeconds.toFixed(2), gzipMBps.toFixed(1), ''],
        [
          'spool flusher to S3 (seal, summary + parallel gzip in one read, upload, release)',
          flushSeconds.toFixed(2),
          flushMBps.toFixed(1),
          `${baselineRss.toFixed(0)} idle, ${peakRss.toFixed(0)} peak`,
        ],
        ['ratio (target >= 0.8; peak RSS < 200 MiB)', '', ratio.toFixed(2), ''],
      ],
    ),
  };
}
