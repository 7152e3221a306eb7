import { describe, expect, it } from '@jest/globals';
import { defineSpoolCommands, redisNow, streamKeys } from '@spool/shared';
import {
  createTestRedis,
  flusherTestEnv,
  randomName,
  SPOOL_MAINS,
  spawnService,
  waitFor,
} from '@spool/testkit';
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
      for (const name of ['a', 'b', 'c']) {
        const keys = streamKeys(randomName(name), namespace);
        await fillBuffer(redis, keys, 10_000);
        await redis.set(keys.since, String(now - 60_000));
      }
      await waitFor(
        async () => ((await failures(flusher.url)) >= 30 ? true : undefined),
        30_000,
        '30 failures',
      );
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
