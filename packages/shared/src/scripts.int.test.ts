import { afterAll, describe, expect, it } from '@jest/globals';
import { createTestRedis, randomName } from '@spool/testkit';
import { streamKeys } from './keys.js';
import { appendToBuffer, defineSpoolCommands, releaseGeneration, sealGeneration } from './scripts.js';

describe('the append script', () => {
  const redis = createTestRedis();
  defineSpoolCommands(redis);
  afterAll(() => redis.quit());

  it('appends, returns the new length and generation, and marks the append that started the buffer', async () => {
    const stream = randomName();
    const keys = streamKeys(stream);
    await redis.set(keys.gen, '3');

    const first = await appendToBuffer(redis, streamKeys(stream), '{"a":1}\n', 1, 1000, 1_700_000_000_000);
    const second = await appendToBuffer(
      redis,
      streamKeys(stream),
      '{"b":2}\n{"c":3}\n',
      2,
      1000,
      1_700_000_000_999,
    );

    expect(first).toEqual({ refused: false, length: 8, gen: 3, started: true });
    expect(second).toEqual({ refused: false, length: 24, gen: 3, started: false });
    expect(await redis.get(keys.buf)).toBe('{"a":1}\n{"b":2}\n{"c":3}\n');
    expect(await redis.get(keys.since)).toBe('1700000000000');
    expect(await redis.hget(keys.stats, 'accepted')).toBe('3');
  });

  it('refuses an append that would pass the maximum and writes nothing', async () => {
    const stream = randomName();
    const keys = streamKeys(stream);
    await appendToBuffer(redis, streamKeys(stream), 'x'.repeat(90), 1, 100, 1);

    const refused = await appendToBuffer(redis, streamKeys(stream), 'y'.repeat(11), 1, 100, 2);
    const fits = await appendToBuffer(redis, streamKeys(stream), 'z'.repeat(10), 1, 100, 3);

    expect(refused).toEqual({ refused: true, length: 90 });
    expect(fits).toEqual({ refused: false, length: 100, gen: 0, started: false });
    expect(await redis.hget(keys.stats, 'accepted')).toBe('2');
  });

  it('counts bytes, not characters, for multi-byte text', async () => {
    const stream = randomName();
    const result = await appendToBuffer(redis, streamKeys(stream), '{"e":"é😀"}\n', 1, 1000, 1);
    expect(result).toMatchObject({ length: Buffer.byteLength('{"e":"é😀"}\n') });
  });
});

describe('the seal script', () => {
  const redis = createTestRedis();
  defineSpoolCommands(redis);
  afterAll(() => redis.quit());

  it('renames the active buffer to its generation, keeps its since, and starts the next generation', async () => {
    const stream = randomName();
    const keys = streamKeys(stream);
    await appendToBuffer(redis, streamKeys(stream), 'a\n', 1, 1000, 1234);

    expect(await sealGeneration(redis, streamKeys(stream), 0, 9999)).toEqual({
      status: 'sealed',
      length: 2,
      since: 1234,
    });
    expect(await redis.get(keys.sealed(0))).toBe('a\n');
    expect(await redis.hget(keys.sealedMeta(0), 'since')).toBe('1234');
    expect(await redis.exists(keys.buf, keys.since)).toBe(0);
    expect(await redis.get(keys.gen)).toBe('1');

    const next = await appendToBuffer(redis, streamKeys(stream), 'b\n', 1, 1000, 5678);
    expect(next).toEqual({ refused: false, length: 2, gen: 1, started: true });
  });

  it('on a retry reuses the sealed key instead of sealing the next generation', async () => {
    const stream = randomName();
    await appendToBuffer(redis, streamKeys(stream), 'a\n', 1, 1000, 1);
    await sealGeneration(redis, streamKeys(stream), 0, 2);
    await appendToBuffer(redis, streamKeys(stream), 'bb\n', 1, 1000, 3);

    expect(await sealGeneration(redis, streamKeys(stream), 0, 4)).toEqual({
      status: 'resealed',
      length: 2,
      since: 1,
    });
    expect(await redis.get(streamKeys(stream).buf)).toBe('bb\n');
  });

  it('does nothing for a generation that is gone or never held anything', async () => {
    const stream = randomName();
    expect(await sealGeneration(redis, streamKeys(stream), 0, 1)).toEqual({ status: 'nothing', length: 0 });
    await appendToBuffer(redis, streamKeys(stream), 'a\n', 1, 1000, 1);
    await sealGeneration(redis, streamKeys(stream), 0, 2);
    await redis.unlink(streamKeys(stream).sealed(0));
    expect(await sealGeneration(redis, streamKeys(stream), 0, 3)).toEqual({ status: 'nothing', length: 0 });
    expect(await sealGeneration(redis, streamKeys(stream), 5, 3)).toEqual({ status: 'nothing', length: 0 });
  });
});

describe('the release script', () => {
  const redis = createTestRedis();
  defineSpoolCommands(redis);
  afterAll(() => redis.quit());

  it('deletes the sealed generation and counts its events as landed, once', async () => {
    const stream = randomName();
    const keys = streamKeys(stream);
    await appendToBuffer(redis, streamKeys(stream), 'a\nb\n', 2, 1000, 1);
    await sealGeneration(redis, streamKeys(stream), 0, 2);
    expect(await redis.smembers(keys.pending)).toEqual(['0']);

    expect(await releaseGeneration(redis, streamKeys(stream), 0, 2)).toBe(true);
    expect(await releaseGeneration(redis, streamKeys(stream), 0, 2)).toBe(false);

    expect(await redis.exists(keys.sealed(0), keys.sealedMeta(0))).toBe(0);
    expect(await redis.smembers(keys.pending)).toEqual([]);
    expect(await redis.hgetall(keys.stats)).toEqual({ accepted: '2', landed: '2' });
  });
});

describe('MAX_BUFFER_BYTES', () => {
  const redis = createTestRedis();
  defineSpoolCommands(redis);
  afterAll(() => redis.quit());

  it('counts sealed generations awaiting upload, so an S3 outage cannot fill Redis', async () => {
    const stream = randomName();
    const keys = streamKeys(stream);
    await appendToBuffer(redis, streamKeys(stream), `${'x'.repeat(59)}\n`, 1, 100, 1);
    await sealGeneration(redis, streamKeys(stream), 0, 2);
    expect(await redis.get(keys.sealedBytes)).toBe('60');

    expect(await appendToBuffer(redis, streamKeys(stream), `${'y'.repeat(49)}\n`, 1, 100, 3)).toEqual({
      refused: true,
      length: 60,
    });
    expect(await appendToBuffer(redis, streamKeys(stream), `${'z'.repeat(39)}\n`, 1, 100, 4)).toMatchObject({
      refused: false,
    });

    await releaseGeneration(redis, streamKeys(stream), 0, 1);
    expect(await redis.get(keys.sealedBytes)).toBe('0');
    expect(await appendToBuffer(redis, streamKeys(stream), `${'y'.repeat(49)}\n`, 1, 100, 5)).toMatchObject({
      refused: false,
    });
  });
});
