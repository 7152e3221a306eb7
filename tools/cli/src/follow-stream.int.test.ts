import { afterAll, describe, expect, it } from '@jest/globals';
import {
  appendToBuffer,
  defineSpoolCommands,
  releaseGeneration,
  type StreamKeys,
  sealGeneration,
  streamKeys,
} from '@spool/shared';
import { createTestRedis, randomName, TcpProxy, testServices, waitFor } from '@spool/testkit';
import { Redis } from 'ioredis';
import { type FollowStep, followStream } from './follow-stream.js';

const redis = createTestRedis();
defineSpoolCommands(redis);

afterAll(async () => {
  await redis.quit();
});

/** Appends events `first`..`first + count - 1` of a series, as the ingest does (whole lines). */
async function append(keys: StreamKeys, series: string, first: number, count: number): Promise<string[]> {
  const lines = Array.from({ length: count }, (_, i) => JSON.stringify({ series, n: first + i }));
  await appendToBuffer(redis, keys, {
    chunk: lines.map((line) => `${line}\n`).join(''),
    eventCount: lines.length,
    maxBytes: 1e9,
    dedupeWindowMs: 0,
    clientIds: { ids: [], lines: [] },
  });
  return lines;
}

/** Runs a follow in the background, collecting its steps, until `stop`. */
function follow(keys: StreamKeys, options: Parameters<typeof followStream>[2] = {}) {
  const controller = new AbortController();
  const steps: FollowStep[] = [];
  const done = (async () => {
    for await (const step of followStream(redis, keys, { ...options, signal: controller.signal }))
      steps.push(step);
  })();
  const lines = () => steps.flatMap((step) => (step.kind === 'lines' ? step.lines : []));
  return {
    steps,
    lines,
    ended: done,
    until: (count: number) =>
      waitFor(async () => (lines().length >= count ? true : undefined), 10_000, `${count} lines`),
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

describe('following a stream', () => {
  it('rides out Redis going away and coming back (a restart, a failover), losing and repeating nothing', async () => {
    const keys = streamKeys(randomName('tail'));
    const target = new URL(testServices().redisUrl);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port));
    // As the CLI's: a command fails after a few reconnection attempts, it does not wait for Redis.
    const viaProxy = new Redis(proxy.url('redis'), { maxRetriesPerRequest: 1 });
    viaProxy.on('error', () => {});
    const controller = new AbortController();
    const lines: string[] = [];
    const done = (async () => {
      for await (const step of followStream(viaProxy, keys, {
        fromStart: true,
        pollMs: 50,
        signal: controller.signal,
      })) {
        if (step.kind === 'lines') lines.push(...step.lines);
      }
    })();
    try {
      const expected = await append(keys, 'a', 0, 5);
      await waitFor(async () => (lines.length >= 5 ? true : undefined), 10_000, 'the first lines');
      proxy.cut();
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // reads fail meanwhile
      expected.push(...(await append(keys, 'a', 5, 5)));
      proxy.restore();
      expected.push(...(await append(keys, 'a', 10, 5)));
      await waitFor(async () => (lines.length >= 15 ? true : undefined), 20_000, 'the lines after');
      controller.abort();
      await done;
      expect(lines).toEqual(expected);
    } finally {
      controller.abort();
      viaProxy.disconnect();
      await proxy.close();
    }
  });

  it('prints what is appended after it starts, across a flush in the middle, losing and repeating nothing', async () => {
    const keys = streamKeys(randomName('tail'));
    await append(keys, 'before', 0, 5); // not shown: the tail starts at the end
    // A long poll: the seal below lands while the tail waits, so it must read the rest from the sealed key.
    const tail = follow(keys, { pollMs: 400 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const expected = await append(keys, 'a', 0, 10);
    await tail.until(10);
    expected.push(...(await append(keys, 'a', 10, 10)));
    expect((await sealGeneration(redis, keys, 0)).status).toBe('sealed');
    expected.push(...(await append(keys, 'b', 0, 10)));
    await tail.until(30);
    // The sealed generation lands (released) after the tail read it: nothing changes for the tail.
    await releaseGeneration(redis, keys, 0, 25);
    expected.push(...(await append(keys, 'b', 10, 5)));
    await tail.until(35);
    await tail.stop();
    expect(tail.lines()).toEqual(expected);
    expect(tail.steps.filter((step) => step.kind === 'skipped')).toEqual([]);
  });

  it('reads the rest of a sealed generation to its end however many reads it takes, then the new buffer', async () => {
    const keys = streamKeys(randomName('tail'));
    const tail = follow(keys, { readBytes: 64, pollMs: 400 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const expected = await append(keys, 'a', 0, 2);
    await tail.until(2);
    // Sealed while the tail waits: some 600 bytes of it are left to read, 64 at a time.
    expected.push(...(await append(keys, 'a', 2, 20)));
    expect((await sealGeneration(redis, keys, 0)).status).toBe('sealed');
    expected.push(...(await append(keys, 'b', 0, 3)));
    await tail.until(25);
    await tail.stop();
    expect(tail.lines()).toEqual(expected);
    expect(tail.steps.filter((step) => step.kind === 'skipped')).toEqual([]);
  });

  it('reads in bounded steps: lines cut between two reads come out whole', async () => {
    const keys = streamKeys(randomName('tail'));
    const tail = follow(keys, { fromStart: true, readBytes: 7, pollMs: 20 });
    const expected = await append(keys, 'small-reads', 0, 40);
    await tail.until(40);
    await tail.stop();
    expect(tail.lines()).toEqual(expected);
  });

  it('says which bytes it skipped when a generation landed before it read them, then goes on', async () => {
    const keys = streamKeys(randomName('tail'));
    // Polls seldom: the seal and release below must fall between two of its reads, even on a
    // runner that stalls this test for a while.
    const tail = follow(keys, { pollMs: 3_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const first = await append(keys, 'c', 0, 3);
    await tail.until(3);
    // Sealed and released while the tail waits: its rest is only in S3 now.
    await append(keys, 'c', 3, 3);
    await sealGeneration(redis, keys, 0);
    await releaseGeneration(redis, keys, 0, 6);
    const after = await append(keys, 'd', 0, 2);
    await tail.until(5);
    await tail.stop();
    expect(tail.lines()).toEqual([...first, ...after]);
    const firstBytes = first.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0);
    expect(tail.steps.filter((step) => step.kind === 'skipped')).toEqual([
      { kind: 'skipped', gen: 0, fromByte: firstBytes },
    ]);
  });

  it('follows the buffer from its start when the generation goes back (Redis lost writes), and says so', async () => {
    const keys = streamKeys(randomName('tail'));
    const before = await append(keys, 'e', 0, 2);
    await sealGeneration(redis, keys, 0);
    const tail = follow(keys, { fromStart: true, pollMs: 50 });
    const gen1 = await append(keys, 'f', 0, 2);
    await tail.until(2);
    // What a failover to a replica that missed the seal looks like: generation 0 again, a new buffer.
    // At once, as a promoted replica shows it (two commands let the tail see each change alone).
    await redis.multi().del(keys.buf).set(keys.gen, '0').exec();
    const again = await append(keys, 'g', 0, 3);
    await tail.until(5);
    await tail.stop();
    expect(before).toHaveLength(2);
    expect(tail.lines()).toEqual([...gen1, ...again]);
    expect(tail.steps.filter((step) => step.kind !== 'lines')).toEqual([
      { kind: 'restarted', gen: 0, fromByte: expect.any(Number) },
    ]);
  });

  it('follows the buffer from its start when it is shorter than what was read (Redis lost writes), never printing half a line', async () => {
    const keys = streamKeys(randomName('tail'));
    const tail = follow(keys, { pollMs: 200 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const first = await append(keys, 'h', 0, 10);
    await tail.until(10);
    // Redis restarted without its last writes: the same generation (0), a shorter buffer.
    await redis.del(keys.buf);
    const again = await append(keys, 'i', 0, 2);
    await tail.until(12);
    await tail.stop();
    expect(tail.lines()).toEqual([...first, ...again]);
    expect(tail.steps.filter((step) => step.kind !== 'lines')).toEqual([
      {
        kind: 'restarted',
        gen: 0,
        fromByte: first.reduce((sum, line) => sum + Buffer.byteLength(line) + 1, 0),
      },
    ]);
  });

  it('says nothing was skipped when a generation it had read to its end lands between two reads', async () => {
    const keys = streamKeys(randomName('tail'));
    const tail = follow(keys, { pollMs: 3_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const first = await append(keys, 'j', 0, 3);
    await tail.until(3);
    // An ordinary flush while the tail waits: nothing appended since its last read.
    await sealGeneration(redis, keys, 0);
    await releaseGeneration(redis, keys, 0, 3);
    const after = await append(keys, 'k', 0, 2);
    await tail.until(5);
    await tail.stop();
    expect(tail.lines()).toEqual([...first, ...after]);
    expect(tail.steps.filter((step) => step.kind !== 'lines')).toEqual([]);
  });

  it('passes over, at once, the generations released before any of them was read, however far the number jumps', async () => {
    const keys = streamKeys(randomName('tail'));
    const tail = follow(keys, { pollMs: 3_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const first = await append(keys, 'l', 0, 3);
    await tail.until(3);
    // Sealed (its upload under way), then a generation number far ahead (set by hand, a Redis
    // restored from elsewhere), then two more sealed: one released unread, one still pending.
    await sealGeneration(redis, keys, 0);
    await redis.set(keys.gen, '100000000');
    await append(keys, 'm', 0, 1);
    await sealGeneration(redis, keys, 100_000_000);
    await releaseGeneration(redis, keys, 100_000_000, 1);
    const pending = await append(keys, 'n', 0, 2);
    await sealGeneration(redis, keys, 100_000_001);
    const after = await append(keys, 'o', 0, 2);
    // Walked one generation at a time, two round trips each, this took hours.
    await tail.until(7);
    await tail.stop();
    expect(tail.lines()).toEqual([...first, ...pending, ...after]);
    expect(tail.steps.filter((step) => step.kind !== 'lines')).toEqual([
      { kind: 'skippedGenerations', from: 1, to: 100_000_000 },
    ]);
  });

  it.each([
    ['from the start', true],
    ['once it is followed', false],
  ])('stops, naming the key, when the generation in Redis is not a number, %s', async (_, atStart) => {
    const keys = streamKeys(randomName('tail'));
    await append(keys, 'p', 0, 1);
    if (atStart) await redis.set(keys.gen, 'abc');
    const tail = follow(keys, { fromStart: true, pollMs: 50 });
    if (!atStart) {
      await tail.until(1);
      await redis.set(keys.gen, 'abc');
    }
    // As NaN it matched no step and read Redis in a loop, for ever, saying nothing.
    await expect(tail.ended).rejects.toThrow(`${keys.gen} holds "abc", not a generation number`);
  });
});
