import { afterAll, describe, expect, it } from '@jest/globals';
import { defineSpoolCommands, recordRejected, sideFileKeys, streamKeys } from '@spool/shared';
import { createTestRedis, randomName } from '@spool/testkit';
import { drainSideFile } from './side-files.js';

const redis = createTestRedis();

/** A promise and the call that settles it: a step held until the test lets it go. */
function gate(): { passed: Promise<void>; open: () => void } {
  let open = () => {};
  const passed = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { passed, open };
}
defineSpoolCommands(redis);
afterAll(() => redis.quit());

describe('drainSideFile', () => {
  it("leaves the next drain's entries alone when a writer that stalled finishes after it began", async () => {
    const keys = streamKeys(randomName('side'));
    const { draining, drainingId } = sideFileKeys(keys, 'quarantine');
    const reject = (entry: string) =>
      recordRejected(redis, keys, { count: 1, entries: [entry], stored: false }, 1_000);
    // A stream that has stored events keeps its refused ones (reject-4.lua).
    await redis.hset(keys.stats, 'accepted', '1');
    await reject('{"n":1}');

    // A writes the first drain and stalls in its write.
    const [aWriting, aResumed] = [gate(), gate()];
    const a = drainSideFile<string[]>(redis, keys, 'quarantine', async () => {
      aWriting.open();
      await aResumed.passed;
    });
    await aWriting.passed;
    // B finishes that drain meanwhile (A looked dead), and C begins the next, its write held too.
    const written: string[][] = [];
    const first = await drainSideFile<string[]>(redis, keys, 'quarantine', async (_, entries) => {
      written.push(entries);
    });
    await reject('{"n":2}');
    const [cWriting, cResumed] = [gate(), gate()];
    const c = drainSideFile<string[]>(redis, keys, 'quarantine', async (_, entries) => {
      written.push(entries);
      cWriting.open();
      await cResumed.passed;
    });
    await cWriting.passed;
    const second = await redis.get(drainingId);
    expect(second).not.toBe(first);

    // A comes back: it deletes nothing of C's drain, which a crash of C would otherwise lose.
    aResumed.open();
    await a;
    expect(await redis.get(drainingId)).toBe(second);
    expect(await redis.lrange(draining, 0, -1)).toEqual(['{"n":2}']);

    cResumed.open();
    expect(await c).toBe(second);
    expect(written).toEqual([['{"n":1}'], ['{"n":2}']]);
    expect(await redis.exists(draining, drainingId)).toBe(0);
  });
});
