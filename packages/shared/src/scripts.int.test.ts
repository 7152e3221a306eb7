import { afterAll, describe, expect, it } from '@jest/globals';
import { createTestRedis, randomName } from '@spool/testkit';
import { streamKeys } from './keys.js';
import { appendToBuffer, defineSpoolCommands } from './scripts.js';

describe('the append script', () => {
  const redis = createTestRedis();
  defineSpoolCommands(redis);
  afterAll(() => redis.quit());

  it('appends, returns the new length and generation, and marks the append that started the buffer', async () => {
    const stream = randomName();
    const keys = streamKeys(stream);
    await redis.set(keys.gen, '3');

    const first = await appendToBuffer(redis, stream, '{"a":1}\n', 1, 1000, 1_700_000_000_000);
    const second = await appendToBuffer(redis, stream, '{"b":2}\n{"c":3}\n', 2, 1000, 1_700_000_000_999);

    expect(first).toEqual({ refused: false, length: 8, gen: 3, started: true });
    expect(second).toEqual({ refused: false, length: 24, gen: 3, started: false });
    expect(await redis.get(keys.buf)).toBe('{"a":1}\n{"b":2}\n{"c":3}\n');
    expect(await redis.get(keys.since)).toBe('1700000000000');
    expect(await redis.hget(keys.stats, 'accepted')).toBe('3');
  });

  it('refuses an append that would pass the maximum and writes nothing', async () => {
    const stream = randomName();
    const keys = streamKeys(stream);
    await appendToBuffer(redis, stream, 'x'.repeat(90), 1, 100, 1);

    const refused = await appendToBuffer(redis, stream, 'y'.repeat(11), 1, 100, 2);
    const fits = await appendToBuffer(redis, stream, 'z'.repeat(10), 1, 100, 3);

    expect(refused).toEqual({ refused: true, length: 90 });
    expect(fits).toEqual({ refused: false, length: 100, gen: 0, started: false });
    expect(await redis.hget(keys.stats, 'accepted')).toBe('2');
  });

  it('counts bytes, not characters, for multi-byte text', async () => {
    const stream = randomName();
    const result = await appendToBuffer(redis, stream, '{"e":"é😀"}\n', 1, 1000, 1);
    expect(result).toMatchObject({ length: Buffer.byteLength('{"e":"é😀"}\n') });
  });
});
