import { afterAll, describe, expect, it } from '@jest/globals';
import {
  appendToBuffer,
  defineSpoolCommands,
  FLUSH_JOB,
  FLUSH_JOB_OPTIONS,
  FLUSH_QUEUE,
  type FlushJobData,
  flushJobId,
  loadConfig,
  queuePrefix,
  sealGeneration,
  streamKeys,
  streamsKey,
} from '@spool/shared';
import { createTestRedis, randomName, waitFor } from '@spool/testkit';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { pino } from 'pino';
import { createFlusherMetrics } from './metrics.js';
import { sweep, sweepEveryMs } from './sweep.js';
import { flusherTestEnv } from './test-support.js';

const NS = randomName('ns');
const redis = createTestRedis();
defineSpoolCommands(redis);
const queueConnection = createTestRedis();
const queue = new Queue<FlushJobData>(FLUSH_QUEUE, { connection: queueConnection, prefix: queuePrefix(NS) });
const config = loadConfig(
  flusherTestEnv({ REDIS_NAMESPACE: NS, FLUSH_INTERVAL: '1m', FLUSH_THRESHOLD_BYTES: '1KiB' }),
  'flusher',
);
const metrics = createFlusherMetrics();
const deps = { config, redis, queue, logger: pino({ level: 'silent' }), metrics };

afterAll(async () => {
  await queue.close();
  await queueConnection.quit();
  await redis.quit();
});

async function write(stream: string, bytes: number, sinceMs: number): Promise<void> {
  const line = `${JSON.stringify({ pad: 'x'.repeat(Math.max(bytes - 12, 0)) })}\n`;
  await appendToBuffer(redis, streamKeys(stream, NS), line, 1, 1e9, sinceMs);
  await redis.sadd(streamsKey(NS), stream);
}

describe('the sweep', () => {
  it('enqueues old buffers, lost crossings and orphaned sealed generations, and leaves the rest alone', async () => {
    const now = Date.now();
    const [young, old, crossed, sealed, withJob] = ['young', 'old', 'crossed', 'sealed', 'withjob'].map(
      (name) => randomName(name),
    ) as [string, string, string, string, string];
    await write(young, 100, now - 1_000);
    await write(old, 100, now - 61_000);
    await write(crossed, 2_000, now - 1_000);
    await write(sealed, 100, now - 1_000);
    await sealGeneration(redis, streamKeys(sealed, NS), 0, now);
    await write(withJob, 2_000, now - 1_000);
    await queue.add(
      FLUSH_JOB,
      { stream: withJob, gen: 0 },
      { ...FLUSH_JOB_OPTIONS, jobId: flushJobId(withJob, 0), delay: 60_000 },
    );

    const result = await sweep(deps, now);

    expect(result.enqueued.sort()).toEqual(
      [flushJobId(old, 0), flushJobId(crossed, 0), flushJobId(sealed, 0)].sort(),
    );
    expect(result.streams).toBe(5);
    expect(await queue.getJob(flushJobId(young, 0))).toBeUndefined();
    const metricsText = await metrics.registry.metrics();
    expect(metricsText).toMatch(/spool_oldest_buffer_age_seconds 6[01]/);

    // A second sweep adds nothing: the jobs exist.
    expect((await sweep(deps, now)).enqueued).toEqual([]);
  });

  it('flushes a buffer whose start time is missing instead of leaving it for ever', async () => {
    const stream = randomName('nosince');
    await write(stream, 100, Date.now());
    await redis.del(streamKeys(stream, NS).since);
    expect((await sweep(deps)).enqueued).toContain(flushJobId(stream, 0));
  });

  it('retries a flush job that failed for good', async () => {
    const stream = randomName('failed');
    await write(stream, 100, Date.now());
    await sealGeneration(redis, streamKeys(stream, NS), 0, Date.now());
    const job = await queue.add(
      FLUSH_JOB,
      { stream, gen: 0 },
      { ...FLUSH_JOB_OPTIONS, jobId: flushJobId(stream, 0) },
    );
    // A worker that fails it for good, as an UnrecoverableError in the flusher would.
    const workerConnection = createTestRedis({ maxRetriesPerRequest: null });
    const worker = new Worker(
      FLUSH_QUEUE,
      async () => {
        throw new UnrecoverableError('simulated');
      },
      { connection: workerConnection, prefix: queuePrefix(NS) },
    );
    await waitFor(async () => ((await job.isFailed()) ? true : undefined), 10_000, 'the job to fail');
    await worker.close();
    await workerConnection.quit();

    const result = await sweep(deps);
    expect(result.retried).toContain(flushJobId(stream, 0));
    expect(await (await queue.getJob(flushJobId(stream, 0)))?.getState()).toBe('waiting');
  });

  it('runs often enough to keep FLUSH_INTERVAL within a quarter, between 1 s and 30 s', () => {
    expect(sweepEveryMs(300_000)).toBe(30_000);
    expect(sweepEveryMs(60_000)).toBe(15_000);
    expect(sweepEveryMs(2_000)).toBe(1_000);
  });
});
