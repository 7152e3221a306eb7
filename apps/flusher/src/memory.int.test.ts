import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { addFlushJob, FLUSH_QUEUE, queuePrefix, type StreamKeys, streamKeys } from '@spool/shared';
import { createTestRedis, flusherTestEnv, randomName, spawnService, waitUntilLanded } from '@spool/testkit';
import { Queue } from 'bullmq';
import { fillBuffer } from '../test/support.js';

const FLUSHER_MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const MiB = 1024 * 1024;
/** This file's own namespace: flushers of other test files never see its queue or streams. */
const NS = randomName('ns');
const redis = createTestRedis();
const queueConnection = createTestRedis();
const queue = new Queue(FLUSH_QUEUE, { connection: queueConnection, prefix: queuePrefix(NS) });
afterAll(async () => {
  await queue.close();
  await queueConnection.quit();
  await redis.quit();
});

/** The process's resident memory; 0 once it has gone (a sampler outliving a failed test). */
function rssBytes(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 0;
  }
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** Above flushGrowth's own waits (the landing's 120 s): a slow run fails with what it waited for. */
const FLUSH_TEST_TIMEOUT_MS = 180_000;

/**
 * Flushes a `mebibytes` buffer with a flusher process of its own and returns its RSS growth: the
 * peak during the flush against the flusher's RSS before it.
 */
async function flushGrowth(
  mebibytes: number,
  env: Record<string, string>,
  fill: (keys: StreamKeys, bytes: number) => Promise<string[]> = (keys, bytes) =>
    fillBuffer(redis, keys, bytes, { lineBytes: 2048 }),
): Promise<number> {
  const stream = randomName('mem');
  const ids = await fill(streamKeys(stream, NS), mebibytes * MiB);
  expect(await redis.strlen(streamKeys(stream, NS).buf)).toBeGreaterThanOrEqual(mebibytes * MiB);

  const flusher = await spawnService(
    FLUSHER_MAIN,
    // Over the buffer's size: otherwise the first sweep flushes it at start, and the baseline
    // below would be taken in the middle of that flush.
    flusherTestEnv({
      REDIS_NAMESPACE: NS,
      S3_PREFIX: `${randomName('mem')}/`,
      FLUSH_THRESHOLD_BYTES: '480MiB',
      MAX_BUFFER_BYTES: '512MiB',
      ...env,
    }),
  );
  let sampler: NodeJS.Timeout | undefined;
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const baseline = rssBytes(flusher.pid);
    let peak = baseline;
    sampler = setInterval(() => {
      peak = Math.max(peak, rssBytes(flusher.pid));
    }, 20);
    await addFlushJob(queue, stream, 0);
    await waitUntilLanded(redis, [stream], { namespace: NS, timeoutMs: 120_000 });
    clearInterval(sampler);
    expect(await redis.hget(streamKeys(stream, NS).stats, 'landed')).toBe(String(ids.length));
    const growth = peak - baseline;
    process.stdout.write(
      `flusher RSS (${JSON.stringify(env)}): baseline ${(baseline / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB, growth ${(growth / MiB).toFixed(0)} MiB for a ${mebibytes} MiB buffer\n`,
    );
    return growth;
  } finally {
    clearInterval(sampler);
    await flusher.stop();
  }
}

describe('flusher memory', () => {
  it.each(['ndjson.gz', 'ndjson.zst'])(
    'flushing a 200 MiB buffer as %s grows the flusher process by far less than the buffer (< 150 MiB)',
    async (format) => {
      expect(await flushGrowth(200, { OUTPUT_FORMAT: format })).toBeLessThan(150 * MiB);
    },
    FLUSH_TEST_TIMEOUT_MS,
  );

  it(
    'flushing a buffer of one 64 MiB line (written by hand) holds none of it whole (< 150 MiB)',
    async () => {
      // The ingest writes no line past MAX_EVENT_BYTES; by hand, one line is the whole buffer. Held
      // for its receivedAt (and copied again with each chunk), a 160 MiB one grew a flusher by 965 MiB.
      const oneLine = async (keys: StreamKeys, bytes: number) => {
        const start = `{"messageId":"${keys.stream}-0","receivedAt":"${new Date().toISOString()}","data":"`;
        await redis.append(keys.buf, start);
        for (let written = start.length; written < bytes; written += 4 * MiB) {
          await redis.append(keys.buf, 'x'.repeat(4 * MiB));
        }
        await redis.append(keys.buf, '"}\n');
        await redis.hincrby(keys.stats, 'accepted', 1); // as the append script counts it
        return [`${keys.stream}-0`];
      };
      expect(await flushGrowth(64, { OUTPUT_FORMAT: 'ndjson.gz' }, oneLine)).toBeLessThan(150 * MiB);
    },
    FLUSH_TEST_TIMEOUT_MS,
  );

  it(
    'flushing a 256 MiB buffer to Parquet grows the flusher process by less than the buffer (< 200 MiB)',
    async () => {
      // A DuckDB instance and one COPY's row group, whatever the buffer's size (docs/output.md);
      // its library is loaded at start, before the baseline.
      expect(await flushGrowth(256, { OUTPUT_FORMAT: 'parquet' })).toBeLessThan(200 * MiB);
    },
    FLUSH_TEST_TIMEOUT_MS,
  );
});
