import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createTestRedis, keptMaxmemory, randomName } from '@spool/testkit';
import type { MemoryReserve } from './config-fields.js';
import { type StreamKeys, streamKeys } from './keys.js';
import {
  type AppendResult,
  appendToBuffer,
  type ClientMessageIds,
  defineSpoolCommands,
  forgetStream,
  pinDestination,
  purgeStream,
  reconcileSealed,
  recordRejected,
  redisNow,
  registerStream,
  releaseGeneration,
  repinDestination,
  sealGeneration,
} from './scripts.js';

const redis = createTestRedis();
defineSpoolCommands(redis);
afterAll(() => redis.quit());

/** Appends lines; `ids[i]` is line i's client messageId (undefined: generated, no dedupe). */
function append(
  keys: StreamKeys,
  lines: string[],
  {
    maxBytes = 1_000_000,
    windowMs = 0,
    ids = [] as Array<string | undefined>,
    memoryReserve = undefined as MemoryReserve | undefined,
  } = {},
): Promise<AppendResult> {
  const clientIds: ClientMessageIds = { ids: [], lines: [] };
  ids.forEach((id, index) => {
    if (id === undefined) return;
    clientIds.ids.push(id);
    clientIds.lines.push(index);
  });
  return appendToBuffer(redis, keys, {
    chunk: lines.map((line) => `${line}\n`).join(''),
    eventCount: lines.length,
    maxBytes,
    dedupeWindowMs: windowMs,
    clientIds,
    memoryReserve,
  });
}

/** The stream's dedupe sets (not the registry of their widths, `<seen>:widths`). */
const seenKeys = async (keys: StreamKeys) =>
  (await redis.keys(`${keys.seen}:*`)).filter((key) => key !== `${keys.seen}:widths`);

describe('the append script', () => {
  it('appends, returns the new length and generation, and marks the append that started the buffer', async () => {
    const keys = streamKeys(randomName());
    await redis.set(keys.gen, '3');

    const first = await append(keys, ['{"a":1}']);
    const second = await append(keys, ['{"b":2}', '{"c":3}']);

    expect(first).toEqual({ refused: false, length: 8, gen: 3, started: true, appended: 8, duplicates: [] });
    expect(second).toEqual({
      refused: false,
      length: 24,
      gen: 3,
      started: false,
      appended: 16,
      duplicates: [],
    });
    expect(await redis.get(keys.buf)).toBe('{"a":1}\n{"b":2}\n{"c":3}\n');
    expect(await redis.hget(keys.stats, 'accepted')).toBe('3');
  });

  it("dates the buffer by Redis's clock, whatever the caller's clock says", async () => {
    const keys = streamKeys(randomName());
    const before = await redisNow(redis);
    await append(keys, ['{"a":1}']);
    const after = await redisNow(redis);
    const since = Number(await redis.get(keys.since));
    expect(since).toBeGreaterThanOrEqual(before);
    expect(since).toBeLessThanOrEqual(after);
  });

  it('refuses an append that would pass the maximum and writes nothing', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['x'.repeat(89)], { maxBytes: 100 });

    const refused = await append(keys, ['y'.repeat(10)], { maxBytes: 100 });
    const fits = await append(keys, ['z'.repeat(9)], { maxBytes: 100 });

    expect(refused).toEqual({ refused: true, held: 90 });
    expect(fits).toMatchObject({ refused: false, length: 100 });
    expect(await redis.hget(keys.stats, 'accepted')).toBe('2');
  });

  it('refuses, writing nothing, when the generation key holds no number (written by hand)', async () => {
    const keys = streamKeys(randomName());
    await redis.set(keys.gen, 'oops');
    await expect(append(keys, ['a'], { windowMs: 600_000, ids: ['g-1'] })).rejects.toThrow(
      `${keys.gen} holds no generation number`,
    );
    expect(await redis.exists(keys.buf, keys.since, keys.stats)).toBe(0);
    expect(await seenKeys(keys)).toEqual([]);
  });

  it('counts bytes, not characters, for multi-byte text', async () => {
    const result = await append(streamKeys(randomName()), ['{"e":"é😀"}']);
    expect(result).toMatchObject({ length: Buffer.byteLength('{"e":"é😀"}\n') });
  });
});

describe('messageId dedupe in the append script', () => {
  const WINDOW = 600_000;

  it('leaves out events whose messageId the stream accepted, and counts them', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['{"n":1}', '{"n":2}'], { windowMs: WINDOW, ids: ['m-1', 'm-2'] });

    const retry = await append(keys, ['{"n":2}', '{"n":3,"é":"😀"}', '{"n":1}', '{"n":4}'], {
      windowMs: WINDOW,
      ids: ['m-2', 'm-3', 'm-1', undefined],
    });

    expect(retry).toMatchObject({ refused: false, duplicates: [0, 2] });
    const third = '{"n":3,"é":"😀"}\n';
    expect(retry).toMatchObject({ appended: Buffer.byteLength(third) + 8 });
    expect(await redis.get(keys.buf)).toBe(`{"n":1}\n{"n":2}\n${third}{"n":4}\n`);
    expect(await redis.hgetall(keys.stats)).toEqual({
      accepted: '4',
      acceptedBytes: String(Buffer.byteLength(`{"n":1}\n{"n":2}\n${third}{"n":4}\n`)),
      duplicates: '2',
    });
  });

  it('leaves out the right lines when events with generated ids come between (their lines named)', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['{"n":1}'], { windowMs: WINDOW, ids: ['m-1'] });

    const retry = await append(keys, ['{"g":1}', '{"n":1}', '{"g":2}', '{"n":2}'], {
      windowMs: WINDOW,
      ids: [undefined, 'm-1', undefined, 'm-2'],
    });

    expect(retry).toMatchObject({ refused: false, duplicates: [1] });
    expect(await redis.get(keys.buf)).toBe('{"n":1}\n{"g":1}\n{"g":2}\n{"n":2}\n');
  });

  it('stores an id once when it comes twice in one append (two requests of one group)', async () => {
    const keys = streamKeys(randomName());
    const result = await append(keys, ['{"from":"a"}', '{"from":"b"}'], {
      windowMs: WINDOW,
      ids: ['m', 'm'],
    });
    expect(result).toMatchObject({ duplicates: [1] });
    expect(await redis.get(keys.buf)).toBe('{"from":"a"}\n');
  });

  it('appends nothing, and starts no buffer, when every event is a duplicate', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['{"a":1}'], { windowMs: WINDOW, ids: ['only'] });
    await sealGeneration(redis, keys, 0);

    const again = await append(keys, ['{"a":1}'], { windowMs: WINDOW, ids: ['only'] });
    expect(again).toEqual({
      refused: false,
      length: 0,
      gen: 1,
      started: false,
      appended: 0,
      duplicates: [0],
    });
    expect(await redis.exists(keys.buf, keys.since)).toBe(0);
  });

  it('never leaves out an id it has not accepted: other streams, refused appends, generated ids', async () => {
    const keys = streamKeys(randomName());
    const other = streamKeys(randomName());
    await append(other, ['{"a":1}'], { windowMs: WINDOW, ids: ['shared-id'] });
    // Refused for space: its id must not count as accepted.
    expect(await append(keys, ['x'.repeat(200)], { maxBytes: 100, windowMs: WINDOW, ids: ['big'] })).toEqual({
      refused: true,
      held: 0,
    });

    const result = await append(keys, ['{"a":1}', '{"b":2}', '{"c":3}'], {
      maxBytes: 100,
      windowMs: WINDOW,
      ids: ['shared-id', 'big', undefined],
    });
    expect(result).toMatchObject({ refused: false, duplicates: [] });
    // Only the two client ids are remembered; the generated one needs no entry.
    const [set] = await seenKeys(keys);
    expect((await redis.smembers(set as string)).sort()).toEqual(['big', 'shared-id']);
  });

  it('keeps no ids, and stores every event, with the window 0', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['{"a":1}'], { ids: ['same'] });
    const again = await append(keys, ['{"a":1}', '{"a":1}'], { ids: ['same', 'same'] });
    expect(again).toMatchObject({ duplicates: [] });
    expect(await redis.hget(keys.stats, 'accepted')).toBe('3');
    expect(await seenKeys(keys)).toEqual([]);
  });

  it('remembers an id for at least one window and at most one and a half, expiring whole sets', async () => {
    const keys = streamKeys(randomName());
    const before = await redisNow(redis);
    await append(keys, ['{"a":1}'], { windowMs: WINDOW, ids: ['m'] });
    const [set] = await seenKeys(keys);
    const expiresAt = await redis.pexpiretime(set as string);
    expect(expiresAt).toBeGreaterThanOrEqual(before + WINDOW);
    expect(expiresAt).toBeLessThanOrEqual(before + 1.5 * WINDOW + 1);
  });

  it('finds an id a whole window on, in the sets of the buckets before the current one', async () => {
    const window = 2_000;
    // Buckets of half a window: accepted in bucket n, retried in bucket n + 2 (at most 1.5 windows
    // after, at least one window after the start of n): the oldest set looked up. Each append's
    // bucket is read from Redis's clock around it; a run whose appends a loaded machine pushed
    // into other buckets proves nothing either way, and is tried again.
    const bucketMs = window / 2;
    const bucketNow = async () => Math.floor((await redisNow(redis)) / bucketMs);
    for (let attempt = 1; ; attempt++) {
      const keys = streamKeys(randomName());
      const bucket = await bucketNow();
      await append(keys, ['{"a":1}'], { windowMs: window, ids: ['late'] });
      const acceptedIn = await bucketNow();
      const wait = (bucket + 2.5) * bucketMs - (await redisNow(redis));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
      const retryFrom = await bucketNow();
      const retry = await append(keys, ['{"a":1}'], { windowMs: window, ids: ['late'] });
      const retryTo = await bucketNow();
      if (acceptedIn === bucket && retryFrom === bucket + 2 && retryTo === bucket + 2) {
        expect(retry).toMatchObject({ duplicates: [0] });
        return;
      }
      if (attempt === 5) throw new Error('5 runs, none with its appends in buckets n and n + 2');
    }
  });

  it('accepts an id again once the window has passed', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['{"a":1}'], { windowMs: 1_000, ids: ['m'] });
    expect(await append(keys, ['{"a":1}'], { windowMs: 1_000, ids: ['m'] })).toMatchObject({
      duplicates: [0],
    });
    // The set of a 1 s window lives 1 to 1.5 s.
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    expect(await append(keys, ['{"a":1}'], { windowMs: 1_000, ids: ['m'] })).toMatchObject({
      duplicates: [],
    });
  });

  it('still finds the ids accepted under another DEDUPE_WINDOW (changed, or a rolling deploy), until their sets expire', async () => {
    const keys = streamKeys(randomName());
    const SHORT = 1_000;
    await append(keys, ['{"a":1}'], { windowMs: WINDOW, ids: ['under-old'] });
    await append(keys, ['{"b":2}'], { windowMs: SHORT, ids: ['under-new'] });

    // Each window finds the other's ids: an ingest on the new value, and one still on the old.
    expect(await append(keys, ['{"a":1}'], { windowMs: SHORT, ids: ['under-old'] })).toMatchObject({
      duplicates: [0],
    });
    expect(await append(keys, ['{"b":2}'], { windowMs: WINDOW, ids: ['under-new'] })).toMatchObject({
      duplicates: [0],
    });
    expect(await redis.hget(keys.stats, 'accepted')).toBe('2');

    // The registry names each width until its newest set expires, and lives as long as the longest.
    const widths = await redis.hgetall(`${keys.seen}:widths`);
    expect(
      Object.keys(widths)
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([SHORT / 2, WINDOW / 2]);
    const registryExpiry = await redis.pexpiretime(`${keys.seen}:widths`);
    expect(registryExpiry).toBe(Math.max(...Object.values(widths).map(Number)));
    for (const [width, expiry] of Object.entries(widths)) {
      const sets = (await seenKeys(keys)).filter((key) => key.startsWith(`${keys.seen}:${width}:`));
      expect(Math.max(...(await Promise.all(sets.map((set) => redis.pexpiretime(set)))))).toBe(
        Number(expiry),
      );
    }

    // Once the short window's sets are gone, its width is struck at the registry's next write.
    await new Promise((resolve) => setTimeout(resolve, 1_700));
    await append(keys, ['{"c":3}'], { windowMs: WINDOW, ids: ['later'] });
    expect(Object.keys(await redis.hgetall(`${keys.seen}:widths`))).toEqual([String(WINDOW / 2)]);
  });

  it('handles more ids than one command takes (2,500 events, 1,250 of them seen)', async () => {
    const keys = streamKeys(randomName());
    const ids = Array.from({ length: 2_500 }, (_, i) => `id-${i}`);
    const lines = ids.map((id) => `{"id":"${id}"}`);
    await append(
      keys,
      lines.filter((_, i) => i % 2 === 0),
      {
        windowMs: WINDOW,
        ids: ids.filter((_, i) => i % 2 === 0),
      },
    );
    const result = await append(keys, lines, { windowMs: WINDOW, ids });
    expect(result).toMatchObject({ refused: false });
    expect((result as { duplicates: number[] }).duplicates).toEqual(
      ids.map((_, i) => i).filter((i) => i % 2 === 0),
    );
    const stored = ((await redis.get(keys.buf)) ?? '').trim().split('\n');
    expect(stored).toHaveLength(2_500);
    expect(new Set(stored).size).toBe(2_500);
  });
});

describe('the seal script', () => {
  it('renames the active buffer to its generation, keeps its since, and starts the next generation', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['a']);
    const since = Number(await redis.get(keys.since));

    expect(await sealGeneration(redis, keys, 0)).toEqual({
      status: 'sealed',
      length: 2,
      since,
      format: 'ndjson.gz',
    });
    expect(await redis.get(keys.sealed(0))).toBe('a\n');
    expect(await redis.hget(keys.sealedMeta(0), 'since')).toBe(String(since));
    expect(await redis.exists(keys.buf, keys.since)).toBe(0);
    expect(await redis.get(keys.gen)).toBe('1');

    expect(await append(keys, ['b'])).toMatchObject({ refused: false, length: 2, gen: 1, started: true });
  });

  it('on a retry reuses the sealed key instead of sealing the next generation', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['a']);
    const { since } = (await sealGeneration(redis, keys, 0)) as { since: number };
    await append(keys, ['bb']);

    expect(await sealGeneration(redis, keys, 0)).toEqual({
      status: 'resealed',
      length: 2,
      since,
      format: 'ndjson.gz',
    });
    expect(await redis.get(keys.buf)).toBe('bb\n');
  });

  it('records the output format with the seal, and gives a retry that format whatever it asks', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['a']);
    expect(await sealGeneration(redis, keys, 0, 'ndjson.zst')).toMatchObject({
      status: 'sealed',
      format: 'ndjson.zst',
    });
    expect(await sealGeneration(redis, keys, 0, 'ndjson.gz')).toMatchObject({
      status: 'resealed',
      format: 'ndjson.zst',
    });

    // Sealed by an earlier version (no format recorded): gzip, the only format it wrote.
    await redis.hdel(keys.sealedMeta(0), 'format');
    expect(await sealGeneration(redis, keys, 0, 'ndjson.zst')).toMatchObject({ format: 'ndjson.gz' });

    // Sealed by a later version for a format this one cannot write: refused, so it writes no second object.
    await redis.hset(keys.sealedMeta(0), 'format', 'orc');
    await expect(sealGeneration(redis, keys, 0)).rejects.toThrow(/sealed for format "orc"/);
  });

  it('makes a lost metadata hash again on a retry, once, so later retries name the same object', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['a']);
    await sealGeneration(redis, keys, 0, 'ndjson.zst');
    await redis.del(keys.sealedMeta(0));
    // Its format lost with it: the retry's own is as good a guess as any, and is kept from then on.
    const retry = (await sealGeneration(redis, keys, 0, 'parquet')) as { since: number };
    expect(retry).toMatchObject({ status: 'resealed', length: 2, format: 'parquet' });
    expect(await redis.hgetall(keys.sealedMeta(0))).toEqual({
      since: String(retry.since),
      format: 'parquet',
    });
    expect(await sealGeneration(redis, keys, 0, 'ndjson.gz')).toEqual({ ...retry, format: 'parquet' });
  });

  it("dates a buffer without since by Redis's clock", async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['a']);
    await redis.del(keys.since);
    const before = await redisNow(redis);
    const sealed = (await sealGeneration(redis, keys, 0)) as { since: number };
    expect(sealed.since).toBeGreaterThanOrEqual(before);
  });

  it("dates a buffer whose since is no number by Redis's clock, and its retries the same", async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['a']);
    await redis.set(keys.since, 'junk');
    const before = await redisNow(redis);
    const sealed = (await sealGeneration(redis, keys, 0)) as { since: number };
    expect(sealed).toMatchObject({ status: 'sealed', length: 2, format: 'ndjson.gz' });
    expect(sealed.since).toBeGreaterThanOrEqual(before);

    // The same for a sealed generation's recorded time, made again once.
    await redis.hset(keys.sealedMeta(0), 'since', 'junk');
    const retry = (await sealGeneration(redis, keys, 0, 'parquet')) as { since: number };
    expect(retry).toMatchObject({ status: 'resealed', length: 2, format: 'ndjson.gz' });
    expect(retry.since).toBeGreaterThanOrEqual(sealed.since);
    expect(await sealGeneration(redis, keys, 0)).toEqual(retry);
  });

  it('seals nothing for a stale job: a generation other than the active one', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['a']);
    await sealGeneration(redis, keys, 0);
    await releaseGeneration(redis, keys, 0, 1);
    await append(keys, ['b']);

    // A job of generation 0 run again (retried, or a stale copy) while generation 1 fills.
    expect(await sealGeneration(redis, keys, 0)).toEqual({ status: 'nothing', length: 0 });
    expect(await redis.get(keys.gen)).toBe('1');
    expect(await redis.get(keys.buf)).toBe('b\n');
    expect(await redis.exists(keys.sealed(0))).toBe(0);
  });

  it('does nothing for a generation that is gone or never held anything', async () => {
    const keys = streamKeys(randomName());
    expect(await sealGeneration(redis, keys, 0)).toEqual({ status: 'nothing', length: 0 });
    await append(keys, ['a']);
    await sealGeneration(redis, keys, 0);
    await redis.unlink(keys.sealed(0));
    expect(await sealGeneration(redis, keys, 0)).toEqual({ status: 'nothing', length: 0 });
    expect(await sealGeneration(redis, keys, 5)).toEqual({ status: 'nothing', length: 0 });
  });
});

describe('the release script', () => {
  it('deletes the sealed generation and counts its events as landed, once', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['a', 'b']);
    await sealGeneration(redis, keys, 0);
    expect(await redis.smembers(keys.pending)).toEqual(['0']);

    const before = Number((await redis.time())[0]) * 1000;
    const object = { key: 'stream=s/a.ndjson.gz', manifestLine: '{"key":"stream=s/a.ndjson.gz"}' };
    expect(await releaseGeneration(redis, keys, 0, 2, object)).toBe(true);
    expect(
      await releaseGeneration(redis, keys, 0, 2, { key: 'stream=s/other.ndjson.gz', manifestLine: '{}' }),
    ).toBe(false);

    expect(await redis.exists(keys.sealed(0), keys.sealedMeta(0))).toBe(0);
    expect(await redis.smembers(keys.pending)).toEqual([]);
    const { lastLandedAt, ...stats } = await redis.hgetall(keys.stats);
    // The bytes appended: "a\n" and "b\n".
    expect(stats).toEqual({
      accepted: '2',
      acceptedBytes: '4',
      landed: '2',
      lastObject: 'stream=s/a.ndjson.gz',
      // What spool tail compares its read with when the sealed key is gone.
      releasedGen: '0',
      releasedBytes: '4',
    });
    expect(Number(lastLandedAt)).toBeGreaterThanOrEqual(before);
    // One manifest line, the first release's: the second released nothing.
    expect(await redis.hgetall(keys.manifestPending)).toEqual({ [object.key]: object.manifestLine });
  });

  it('releases a generation with no object (no events) without naming a last object or a manifest line', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['a']);
    await sealGeneration(redis, keys, 0);
    expect(await releaseGeneration(redis, keys, 0, 0)).toBe(true);
    expect(await redis.exists(keys.sealed(0))).toBe(0);
    const stats = await redis.hgetall(keys.stats);
    expect(stats).not.toHaveProperty('lastObject');
    expect(stats).not.toHaveProperty('lastLandedAt');
    // A line under "" would stop the stream's manifest writes (no day in its key).
    expect(await redis.hgetall(keys.manifestPending)).toEqual({});
  });
});

describe('MAX_BUFFER_BYTES', () => {
  it('counts sealed generations awaiting upload, so an S3 outage cannot fill Redis', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['x'.repeat(59)], { maxBytes: 100 });
    await sealGeneration(redis, keys, 0);
    expect(await redis.get(keys.sealedBytes)).toBe('60');

    expect(await append(keys, ['y'.repeat(49)], { maxBytes: 100 })).toEqual({ refused: true, held: 60 });
    expect(await append(keys, ['z'.repeat(39)], { maxBytes: 100 })).toMatchObject({ refused: false });

    await releaseGeneration(redis, keys, 0, 1);
    expect(await redis.get(keys.sealedBytes)).toBe('0');
    expect(await append(keys, ['y'.repeat(49)], { maxBytes: 100 })).toMatchObject({ refused: false });
  });

  it('answers a retry of stored events as duplicates while the stream holds more than a lowered maximum', async () => {
    const keys = streamKeys(randomName());
    const ids = ['m-1', 'm-2'];
    await append(keys, ['x'.repeat(59), 'y'.repeat(59)], { windowMs: 600_000, ids });

    // MAX_BUFFER_BYTES lowered (or STREAM_SHARDS raised) under the 120 bytes the stream holds.
    const retry = await append(keys, ['x'.repeat(59), 'y'.repeat(59)], {
      windowMs: 600_000,
      ids,
      maxBytes: 100,
    });
    expect(retry).toEqual({
      refused: false,
      length: 120,
      gen: 0,
      started: false,
      appended: 0,
      duplicates: [0, 1],
    });
    // New events are still refused.
    expect(await append(keys, ['z'], { windowMs: 600_000, ids: ['m-3'], maxBytes: 100 })).toEqual({
      refused: true,
      held: 120,
    });
  });

  it('counts a lost sealed-bytes counter as none once its generation is released, never below', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['x'.repeat(59)], { maxBytes: 100 });
    await sealGeneration(redis, keys, 0);
    // Evicted by a Redis not on noeviction, or deleted by hand.
    await redis.del(keys.sealedBytes);
    await releaseGeneration(redis, keys, 0, 1);
    expect(await redis.get(keys.sealedBytes)).toBeNull();

    expect(await append(keys, ['y'.repeat(89)], { maxBytes: 100 })).toMatchObject({
      refused: false,
      length: 90,
    });
    expect(await append(keys, ['z'.repeat(19)], { maxBytes: 100 })).toEqual({ refused: true, held: 90 });

    // A counter already below 0 (left by an earlier version's release) holds no room either.
    await redis.set(keys.sealedBytes, '-500');
    expect(await append(keys, ['z'.repeat(19)], { maxBytes: 100 })).toEqual({ refused: true, held: 90 });
  });
});

describe('REDIS_MEMORY_RESERVE', () => {
  const MiB = 1024 * 1024;
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
  let maxmemory: number;
  let found: Awaited<ReturnType<typeof keptMaxmemory>>;
  // This worker's Redis, given a maxmemory some way above what it uses, restored after each test.
  beforeEach(async () => {
    found = await keptMaxmemory(redis);
    maxmemory = (await usedMemory()) + 64 * MiB;
    await redis.config('SET', 'maxmemory', String(maxmemory));
  });
  afterEach(() => found.restore());

  it('refuses an append that would leave less than the reserve below maxmemory, writing nothing', async () => {
    const keys = streamKeys(randomName());
    const refused = await append(keys, ['{"a":1}'], {
      windowMs: 600_000,
      ids: ['id-1'],
      memoryReserve: { bytes: 128 * MiB },
    });
    expect(refused).toMatchObject({ refused: 'memory', maxMemory: maxmemory });
    expect((refused as { usedMemory: number }).usedMemory).toBeGreaterThan(0);
    expect(await redis.exists(keys.buf, keys.gen, keys.since, keys.stats)).toBe(0);
    expect(await seenKeys(keys)).toEqual([]);

    expect(await append(keys, ['{"a":1}'], { memoryReserve: { bytes: MiB } })).toMatchObject({
      refused: false,
    });
  });

  // The script adds the append's bytes to used_memory, a margin this cannot tell apart: while it
  // runs, used_memory already holds its arguments, some 2.5 times their bytes (the query buffer and
  // the argument strings; a review's measure on Redis 7.0), so a large append is refused by either.
  it('takes a share of maxmemory, and refuses an append larger than the room left', async () => {
    const keys = streamKeys(randomName());
    expect(await append(keys, ['{"a":1}'], { memoryReserve: { percent: 99 } })).toMatchObject({
      refused: 'memory',
    });
    expect(await append(keys, ['{"a":1}'], { memoryReserve: { percent: 10 } })).toMatchObject({
      refused: false,
    });
    // 2 MiB of room left: a small append fits, one of 4 MiB does not.
    const room = { bytes: maxmemory - (await usedMemory()) - 2 * MiB };
    expect(await append(keys, ['{"b":2}'], { memoryReserve: room })).toMatchObject({ refused: false });
    expect(await append(keys, ['x'.repeat(4 * MiB)], { memoryReserve: room })).toMatchObject({
      refused: 'memory',
    });
    expect(await redis.get(keys.buf)).toBe('{"a":1}\n{"b":2}\n');
  });

  it('answers a retry of stored events as duplicates however full Redis is: it appends nothing', async () => {
    const keys = streamKeys(randomName());
    const ids = ['r-1', 'r-2'];
    await append(keys, ['{"a":1}', '{"b":2}'], { windowMs: 600_000, ids });
    expect(
      await append(keys, ['{"a":1}', '{"b":2}'], {
        windowMs: 600_000,
        ids,
        memoryReserve: { bytes: 128 * MiB },
      }),
    ).toMatchObject({ refused: false, appended: 0, duplicates: [0, 1] });
  });

  it("keeps the quarantine's entries out of the reserve: they are counted dropped, the events rejected", async () => {
    const keys = streamKeys(randomName());
    const entries = ['{"code":"SPOOL_INVALID_EVENT"}', '{"code":"SPOOL_INVALID_EVENT"}'];
    await recordRejected(redis, keys, { count: 2, entries, stored: true }, 1_000, { bytes: 128 * MiB });
    expect(await redis.exists(keys.quarantine)).toBe(0);
    expect(await redis.hgetall(keys.stats)).toMatchObject({ rejected: '2', quarantineDropped: '2' });
    await recordRejected(redis, keys, { count: 2, entries, stored: true }, 1_000, { bytes: MiB });
    expect(await redis.llen(keys.quarantine)).toBe(2);
  });

  it('keeps no reserve for a Redis user that may not run INFO (an ACL without @dangerous)', async () => {
    const user = randomName('noinfo');
    await redis.call('ACL', 'SETUSER', user, 'on', '>secret-password', '~*', '&*', '+@all', '-@dangerous');
    const limited = createTestRedis({ username: user, password: 'secret-password' });
    defineSpoolCommands(limited);
    try {
      await expect(limited.info('memory')).rejects.toThrow(/NOPERM/);
      const keys = streamKeys(randomName());
      const appended = await appendToBuffer(limited, keys, {
        chunk: '{"a":1}\n',
        eventCount: 1,
        maxBytes: 1_000_000,
        dedupeWindowMs: 0,
        clientIds: { ids: [], lines: [] },
        memoryReserve: { bytes: 128 * MiB },
      });
      expect(appended).toMatchObject({ refused: false, appended: 8 });
    } finally {
      limited.disconnect();
      await redis.call('ACL', 'DELUSER', user);
    }
  });

  it('keeps no reserve on a Redis without maxmemory', async () => {
    await redis.config('SET', 'maxmemory', '0');
    const keys = streamKeys(randomName());
    expect(await append(keys, ['{"a":1}'], { memoryReserve: { percent: 50 } })).toMatchObject({
      refused: false,
    });
    expect(await append(keys, ['{"b":2}'], { memoryReserve: { bytes: 2 ** 50 } })).toMatchObject({
      refused: false,
    });
  });
});

describe('the destination scripts', () => {
  it('move a pin only from the bucket the caller found missing, never over a move another flusher made', async () => {
    const keys = streamKeys(randomName());
    await append(keys, ['a']);
    await sealGeneration(redis, keys, 0);
    const typo = { bucket: 'evnets', prefix: 'events/' };
    expect(await pinDestination(redis, keys, 0, typo)).toEqual(typo);

    const fixed = { bucket: 'events', prefix: 'events/' };
    expect(await repinDestination(redis, keys, 0, typo, fixed)).toEqual(fixed);
    // A second flusher that also found the typo missing, with settings of its own: the first move stands.
    expect(await repinDestination(redis, keys, 0, typo, { bucket: 'other', prefix: '' })).toEqual(fixed);
    expect(await pinDestination(redis, keys, 0, { bucket: 'other', prefix: '' })).toEqual(fixed);
  });
});

describe('the reject script', () => {
  it('dates the quarantine by its oldest entry, so a steady trickle of refusals cannot keep it from a flush', async () => {
    const keys = streamKeys(randomName());
    await recordRejected(redis, keys, { count: 1, entries: ['{"e":1}'], stored: true }, 1_000);
    const since = await redis.get(keys.quarantineSince);
    expect(Number(since)).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 5));

    await recordRejected(redis, keys, { count: 1, entries: ['{"e":2}'], stored: true }, 1_000);
    expect(await redis.get(keys.quarantineSince)).toBe(since);
    expect(await redis.lrange(keys.quarantine, 0, -1)).toEqual(['{"e":1}', '{"e":2}']);
    expect(await redis.hget(keys.stats, 'rejected')).toBe('2');
  });
});

describe('the reconcile script', () => {
  it('sets sealed-bytes from the sealed keys and forgets generations whose key was deleted', async () => {
    const keys = streamKeys(randomName());
    for (const line of ['a'.repeat(9), 'b'.repeat(19), 'c'.repeat(29)]) {
      await append(keys, [line]);
      await sealGeneration(redis, keys, Number((await redis.get(keys.gen)) ?? 0));
    }
    expect(await redis.get(keys.sealedBytes)).toBe('60');
    expect(await reconcileSealed(redis, keys)).toEqual({ sealedBytes: 60, counted: 60, forgotten: 0 });

    await redis.del(keys.sealed(1));
    expect(await reconcileSealed(redis, keys)).toEqual({ sealedBytes: 40, counted: 60, forgotten: 1 });
    expect(await redis.get(keys.sealedBytes)).toBe('40');
    expect((await redis.smembers(keys.pending)).sort()).toEqual(['0', '2']);
    expect(await redis.exists(keys.sealedMeta(1))).toBe(0);

    // What release subtracts still adds up: nothing left over, nothing negative.
    await releaseGeneration(redis, keys, 0, 1);
    await releaseGeneration(redis, keys, 2, 1);
    expect(await redis.get(keys.sealedBytes)).toBe('0');
  });
});

describe('the stream registry scripts', () => {
  it("register a stream at Redis's time, and forget it only if not registered since the cutoff", async () => {
    const registry = `${randomName('registry')}:stream-registry`;
    const registeredAt = await registerStream(redis, registry, 'web');
    expect(Number(await redis.zscore(registry, 'web'))).toBe(registeredAt);
    // Registered again (the ingest's refresh): its time moves on, so a stream in use is never one
    // the sweep finds older than its cutoff.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const again = await registerStream(redis, registry, 'web');
    expect(again).toBeGreaterThan(registeredAt);
    expect(Number(await redis.zscore(registry, 'web'))).toBe(again);
    await redis.zadd(registry, registeredAt, 'web');

    expect(await forgetStream(redis, registry, 'web', registeredAt)).toBe(false);
    expect(await forgetStream(redis, registry, 'web', registeredAt + 1)).toBe(true);
    expect(await redis.zscore(registry, 'web')).toBeNull();
    expect(await forgetStream(redis, registry, 'web', registeredAt + 1)).toBe(false);
    await redis.del(registry);
  });

  it("purge a forgotten stream's counters, unless it holds something again, and never reuse a generation number", async () => {
    const keys = streamKeys(randomName('purge'));
    await append(keys, ['{"n":1}']);
    await sealGeneration(redis, keys, 0);
    await releaseGeneration(redis, keys, 0, 1);
    expect(await redis.exists(keys.gen, keys.sealedBytes, keys.stats)).toBe(3);

    // Held again, one way or another (an append came between the forget and the purge): kept.
    const heldAgain: Array<[string, () => Promise<unknown>]> = [
      ['a buffer', () => redis.set(keys.buf, '{"n":2}\n')],
      ['a sealed generation', () => redis.sadd(keys.pending, '1')],
      ['sealed bytes', () => redis.set(keys.sealedBytes, '8')],
      ['a manifest line', () => redis.hset(keys.manifestPending, 'k', '{}')],
      ['a manifest drain', () => redis.set(keys.manifestDrainingId, 'd')],
      ['a refused event', () => redis.rpush(keys.quarantine, '{}')],
      ['a quarantine drain', () => redis.set(keys.quarantineDrainingId, 'd')],
    ];
    for (const [what, hold] of heldAgain) {
      await hold();
      expect({ what, purged: await purgeStream(redis, keys) }).toEqual({ what, purged: false });
      await redis.del(keys.buf, keys.pending, keys.manifestPending, keys.manifestDrainingId);
      await redis.del(keys.quarantine, keys.quarantineDrainingId);
      await redis.set(keys.sealedBytes, '0');
    }
    expect(await redis.exists(keys.gen, keys.sealedBytes, keys.stats)).toBe(3);

    expect(await purgeStream(redis, keys)).toBe(true);
    expect(await redis.exists(keys.sealedBytes, keys.stats)).toBe(0);
    const again = await append(keys, ['{"n":3}']);
    expect(again).toMatchObject({ refused: false, gen: 1 });
    // A flush attempt of generation 0 that stalled across the forget, releasing late: nothing
    // of generation 1 is touched (with the number started again at 0, it took the new buffer).
    await sealGeneration(redis, keys, 1);
    expect(await releaseGeneration(redis, keys, 0, 1)).toBe(false);
    expect(await redis.exists(keys.sealed(1))).toBe(1);
  });
});
