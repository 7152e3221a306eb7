import { afterAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import { createTestRedis } from './clients.js';
import { waitUntilLanded } from './landing.js';
import { randomName } from './names.js';

const redis = createTestRedis();
afterAll(() => redis.quit());

describe('waitUntilLanded', () => {
  it('asks for a flush again while events wait, until they land', async () => {
    // Events appended after the last flush was asked for (a "may be stored" append, late): they
    // land only once asked again.
    const namespace = randomName('land');
    const stream = randomName('s');
    const { stats } = streamKeys(stream, namespace);
    await redis.hset(stats, 'accepted', '10', 'landed', '0');
    let nudges = 0;
    await waitUntilLanded(redis, [stream], {
      namespace,
      timeoutMs: 60_000,
      nudge: async () => {
        nudges += 1;
        await redis.hset(stats, 'landed', '10');
      },
    });
    expect(nudges).toBe(1);
    await redis.del(stats);
  }, 90_000);
});
