import { afterAll, describe, expect, it } from '@jest/globals';
import { defineSpoolCommands, recordRejected, sideFileKeys, streamKeys } from '@spool/shared';
import { createTestRedis, randomName } from '@spool/testkit';
import { drainSideFile } from './side-files.js';

const redis = createTestRedis();
defineSpoolCommands(redis);
afterAll(() => redis.quit());

describe('drainSideFile', () => {
  it("leaves the next drain's entries alone when a writer that stalled finishes after it began", async () => {
    const keys = streamKeys(randomName('side'));
    const { draining, drainingId } = sideFileKeys(keys, 'quarantine');
    const reject = (entry: string) =>
      recordRejected(redis, keys, { count: 1, entries: [entry], stored: false }, 1_000);
    // A stream that has stored events keeps its refused ones (reject-3.lua).
    await redis.hset(keys.stats, 'accepted', '1');
    await reject('{"n":1}');

    // A writes the first drain and stalls in its write.
    let resume = () => {};
    const stalled = new Promise<void>((resolve) => {
      resume = resolve;
    });
    let writing = () => {};
    const aWriting = new Promise<void>((resolve) => {
      writing = resolve;
    });
    const a = drainSideFile<string[]>(redis, keys, 'quarantine', async () => {
      writing();
      await stalled;
    });
    await aWriting;
    // B finishes that drain meanwhile (A looked dead), and C begins the next, its write held too.
    const written: string[][] = [];
    const first = await drainSideFile<string[]>(redis, keys, 'quarantine', async (_, entries) => {
      written.push(entries);
    });
    await reject('{"n":2}');
    let cWriting = () => {};
    const cStarted = new Promise<void>((resolve) => {
      cWriting = resolve;
    });
    let cResume = () => {};
    const cStalled = new Promise<void>((resolve) => {
      cResume = resolve;
    });
    const c = drainSideFile<string[]>(redis, keys, 'quarantine', async (_, entries) => {
      written.push(entries);
      cWriting();
      await cStalled;
    });
    await cStarted;
    const second = await redis.get(drainingId);
    expect(second).not.toBe(first);

    // A comes back: it deletes nothing of C's drain, which a crash of C would otherwise lose.
    resume();
    await a;
    expect(await redis.get(drainingId)).toBe(second);
    expect(await redis.lrange(draining, 0, -1)).toEqual(['{"n":2}']);

    cResume();
    expect(await c).toBe(second);
    expect(written).toEqual([['{"n":1}'], ['{"n":2}']]);
    expect(await redis.exists(draining, drainingId)).toBe(0);
  });
});
