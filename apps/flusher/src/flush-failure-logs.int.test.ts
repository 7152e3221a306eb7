import { describe, expect, it } from '@jest/globals';
import { defineSpoolCommands, FLUSH_QUEUE, queuePrefix, redisNow, streamKeys } from '@spool/shared';
import {
  createTestRedis,
  flusherTestEnv,
  randomName,
  SPOOL_MAINS,
  spawnService,
  testServices,
  waitFor,
} from '@spool/testkit';
import { S3FaultProxy } from '@spool/testkit/local-stack';
import { Queue } from 'bullmq';
import { fillBuffer } from '../test/support.js';

/** spool_flush_failures_total, summed over its streams, as the flusher's /metrics says it. */
async function failures(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return [...text.matchAll(/^spool_flush_failures_total\{[^}]*\} (\d+)$/gm)].reduce(
    (sum, [, count]) => sum + Number(count),
    0,
  );
}

describe('flush failures in the log', () => {
  it('are said a line per cause every 10 s with how many it stands for, not a line (and a stack) per attempt', async () => {
    const namespace = randomName('fails');
    const redis = createTestRedis();
    defineSpoolCommands(redis);
    // S3 unreachable; retries as fast as the settings allow.
    const flusher = await spawnService(
      SPOOL_MAINS.flusher,
      flusherTestEnv({
        REDIS_NAMESPACE: namespace,
        S3_ENDPOINT: 'http://127.0.0.1:1',
        FLUSH_INTERVAL: '1s',
        FLUSH_RETRY_BASE: '10ms',
        FLUSH_RETRY_MAX: '100ms',
        LOG_LEVEL: 'warn',
      }),
    );
    try {
      const now = await redisNow(redis);
      const streams = ['a', 'b', 'c'].map((name) => randomName(name));
      for (const stream of streams) {
        const keys = streamKeys(stream, namespace);
        await fillBuffer(redis, keys, 10_000);
        await redis.set(keys.since, String(now - 60_000));
      }
      await waitFor(
        async () => ((await failures(flusher.url)) >= 30 ? true : undefined),
        30_000,
        '30 failures',
      );
      // Each stream's objects series is there, at 0, from its first attempt: born with its first
      // object, increase() took that object for the series' start, and SpoolFlushFailing stayed
      // raised after S3 was back (a review's run).
      const text = await (await fetch(`${flusher.url}/metrics`)).text();
      for (const stream of streams)
        expect(text).toContain(`spool_flush_objects_total{stream="${stream}"} 0\n`);
      const lines = flusher
        .output()
        .split('\n')
        .filter((line) => line.includes('"msg":"flush failed; will retry"'));
      // One cause (the connection refused): a line when it began, and at most one every 10 s since.
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect(lines.length).toBeLessThan((await failures(flusher.url)) / 5);
    } finally {
      await flusher.stop();
      await redis.quit();
    }
  });
});

describe('a failed attempt in its job', () => {
  it("keeps S3's code to 100 characters and its message to 300, in the job, its stacks and the log (a 100 KB message made a job of 1.15 MB in Redis)", async () => {
    const namespace = randomName('long');
    const redis = createTestRedis();
    defineSpoolCommands(redis);
    const proxy = await S3FaultProxy.start(testServices().s3.endpoint);
    proxy.set('error500LongAnswer');
    const flusher = await spawnService(
      SPOOL_MAINS.flusher,
      flusherTestEnv({
        REDIS_NAMESPACE: namespace,
        S3_ENDPOINT: proxy.endpoint,
        FLUSH_INTERVAL: '1s',
        FLUSH_RETRY_BASE: '10ms',
        FLUSH_RETRY_MAX: '100ms',
        LOG_LEVEL: 'warn',
      }),
    );
    const connection = redis.duplicate();
    const queue = new Queue(FLUSH_QUEUE, { connection, prefix: queuePrefix(namespace) });
    try {
      const keys = streamKeys(randomName('s'), namespace);
      await fillBuffer(redis, keys, 10_000);
      await redis.set(keys.since, String((await redisNow(redis)) - 60_000));
      const failed = await waitFor(
        async () => {
          const jobs = await queue.getJobs(['delayed', 'waiting', 'active', 'failed']);
          const job = jobs.find((candidate) => candidate.name === 'flush' && candidate.attemptsMade >= 2);
          return job?.failedReason ? job : undefined;
        },
        60_000,
        'a flush job failed twice',
      );
      expect(failed.failedReason).toMatch(/^x{300}…$/);
      const stacks = failed.stacktrace ?? [];
      expect(stacks.length).toBeGreaterThanOrEqual(1);
      for (const stack of stacks) {
        expect(stack).toMatch(/^C{100}…: x{300}…\n\s+at /);
        expect(stack.length).toBeLessThan(10_000);
      }
      const logged = flusher
        .output()
        .split('\n')
        .filter((line) => line.includes('"msg":"flush failed; will retry"'));
      expect(logged.length).toBeGreaterThanOrEqual(1);
      for (const line of logged) expect(line.length).toBeLessThan(20_000);
    } finally {
      await queue.close();
      await connection.quit();
      await flusher.stop();
      await proxy.close();
      await redis.quit();
    }
  });
});
