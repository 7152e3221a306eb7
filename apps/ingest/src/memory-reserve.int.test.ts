import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import { createTestRedis, keptMaxmemory, randomName } from '@spool/testkit';
import { startTestIngest, type TestIngest } from '../test/support.js';

/**
 * REDIS_MEMORY_RESERVE: appends stop short of Redis's maxmemory, so the flushers always have the
 * room to seal, upload and release (at maxmemory Redis refuses their scripts and BullMQ's, and
 * nothing drains). This worker's Redis is given a maxmemory 64 MiB above what it uses, before the
 * ingests start (each reads it then, and four times a second after).
 */
const MiB = 1024 * 1024;
const redis = createTestRedis();
let roomy: TestIngest;
let reserved: TestIngest;
let maxmemory: number;
let found: Awaited<ReturnType<typeof keptMaxmemory>>;

beforeAll(async () => {
  found = await keptMaxmemory(redis);
  const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
  maxmemory = used + 64 * MiB;
  await redis.config('SET', 'maxmemory', String(maxmemory));
  // The default reserve (10%) leaves room on this Redis; 128 MiB is more than it has.
  roomy = await startTestIngest();
  reserved = await startTestIngest({ REDIS_MEMORY_RESERVE: '128MiB' });
});
afterAll(async () => {
  await found.restore();
  await Promise.all([roomy?.close(), reserved?.close()]);
  await redis.quit();
});

describe('REDIS_MEMORY_RESERVE', () => {
  it('answers 503 SPOOL_REDIS_FULL, storing nothing, while Redis is within the reserve of its maxmemory', async () => {
    const stream = randomName();
    const answer = await reserved.app.inject({
      method: 'POST',
      url: `/v1/streams/${stream}/events`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify([{ messageId: 'm-1', n: 1 }]),
    });
    expect(answer.statusCode).toBe(503);
    expect(answer.headers['retry-after']).toBe('5');
    expect(answer.json()).toMatchObject({ code: 'SPOOL_REDIS_FULL' });
    // Redis's numbers are for the operator's log, not for clients.
    expect(answer.json().message).not.toContain(String(maxmemory));
    const keys = streamKeys(stream);
    expect(await redis.exists(keys.buf, keys.stats)).toBe(0);

    // The same request where the reserve leaves room: stored, and not a duplicate of anything.
    const stored = await roomy.app.inject({
      method: 'POST',
      url: `/v1/streams/${stream}/events`,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify([{ messageId: 'm-1', n: 1 }]),
    });
    expect(stored.statusCode).toBe(202);
    expect(stored.json()).toMatchObject({ accepted: 1, duplicates: 0 });
  });

  it('refuses the tracking API the same way', async () => {
    const answer = await reserved.app.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ batch: [{ type: 'track', event: 'E', userId: 'u' }] }),
    });
    expect(answer.statusCode).toBe(503);
    expect(answer.json()).toMatchObject({ code: 'SPOOL_REDIS_FULL' });
  });

  it('keeps no reserve on a Redis without maxmemory', async () => {
    await redis.config('SET', 'maxmemory', '0');
    try {
      const answer = await reserved.app.inject({
        method: 'POST',
        url: `/v1/streams/${randomName()}/events`,
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ n: 1 }),
      });
      expect(answer.statusCode).toBe(202);
    } finally {
      await redis.config('SET', 'maxmemory', String(maxmemory));
    }
  });
});
