import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestRedis, keptMaxmemory, randomName } from '@spool/testkit';
import { RedisRoom } from './redis-room.js';

/** Whether appends check the memory reserve, as the room reads this worker's Redis. */
const MiB = 1024 * 1024;
const redis = createTestRedis();
// Connected: the room asks only connected masters (a master it cannot ask, it checks appends on).
let found: Awaited<ReturnType<typeof keptMaxmemory>>;
beforeAll(async () => {
  found = await keptMaxmemory(redis);
});
afterEach(() => found.restore());
afterAll(() => redis.quit());

const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);

describe('the memory room', () => {
  it('asks appends to check only while Redis is near its maxmemory, and never without one', async () => {
    const room = new RedisRoom(redis, { percent: 10 });
    await room.read();
    expect(room.reserveForAppend()).toBeUndefined();

    // Far: used is a few MiB of 64 MiB more.
    await redis.config('SET', 'maxmemory', String((await usedMemory()) + 64 * MiB));
    await room.read();
    expect(room.reserveForAppend()).toBeUndefined();

    // At half of maxmemory or more.
    await redis.config('SET', 'maxmemory', String(Math.ceil((await usedMemory()) * 1.5)));
    await room.read();
    expect(room.reserveForAppend()).toEqual({ percent: 10 });
  });

  it('asks appends to check while it cannot read a master (not connected)', async () => {
    const away = createTestRedis({ lazyConnect: true });
    try {
      const room = new RedisRoom(away, { percent: 10 });
      await room.read();
      expect(away.status).not.toBe('ready');
      expect(room.reserveForAppend()).toEqual({ percent: 10 });
    } finally {
      away.disconnect();
    }
  });

  it('says once that a byte reserve at least maxmemory refuses every append', async () => {
    const warnings: string[] = [];
    const room = new RedisRoom(redis, { bytes: 128 * MiB }, {
      warn: (message: string) => warnings.push(message),
    } as never);
    await redis.config('SET', 'maxmemory', String((await usedMemory()) + 64 * MiB));
    await room.read();
    await room.read();
    expect(room.reserveForAppend()).toEqual({ bytes: 128 * MiB });
    expect(warnings).toEqual([expect.stringContaining("is at least a Redis master's maxmemory")]);
  });

  it('keeps no reserve, and says so once, for a Redis user that may not run INFO', async () => {
    const user = randomName('noinfo');
    await redis.call('ACL', 'SETUSER', user, 'on', '>secret-password', '~*', '&*', '+@all', '-@dangerous');
    const limited = createTestRedis({ username: user, password: 'secret-password' });
    try {
      await limited.ping();
      const warnings: string[] = [];
      const room = new RedisRoom(limited, { percent: 10 }, {
        warn: (message: string) => warnings.push(message),
      } as never);
      await room.read();
      await room.read();
      expect(room.reserveForAppend()).toBeUndefined();
      expect(warnings).toEqual([expect.stringContaining('may not run INFO')]);
    } finally {
      limited.disconnect();
      await redis.call('ACL', 'DELUSER', user);
    }
  });
});
