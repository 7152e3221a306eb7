import { afterAll, describe, expect, it } from '@jest/globals';
import { defineSpoolCommands, streamKeys } from '@spool/shared';
import { createTestRedis, randomName } from '@spool/testkit';
import { readUnitByCommands, readUnitByScript, readUnitState, type UnitState } from './unit-state.js';

const redis = createTestRedis();
defineSpoolCommands(redis);
afterAll(() => redis.quit());

/** Both readers, and the one the sweep uses on this (single) Redis, with pending in order. */
async function readEachWay(stream: string): Promise<UnitState[]> {
  const keys = streamKeys(stream);
  const states = await Promise.all([
    readUnitByScript(redis, keys),
    readUnitByCommands(redis, keys),
    readUnitState(redis, keys),
  ]);
  return states.map((state) => ({ ...state, pending: [...state.pending].sort() }));
}

describe("reading a unit's state", () => {
  it('reads every key of a unit the same in one script as by a command each', async () => {
    const stream = randomName('unit');
    const keys = streamKeys(stream);
    await redis
      .multi()
      .set(keys.gen, '3')
      .set(keys.since, '1796500000123')
      .set(keys.buf, '{"n":1}\n{"n":2}\n')
      .sadd(keys.pending, '1', '2')
      .set(keys.sealedBytes, '4096')
      .hset(keys.manifestPending, 'k1', 'line', 'k2', 'line')
      .set(keys.manifestDrainingId, 'drain-1')
      .rpush(keys.quarantine, 'a', 'b', 'c')
      .set(keys.quarantineDrainingId, 'drain-2')
      .hset(keys.stats, 'accepted', '5', 'landed', '2', 'lastObject', 'stream=x/a.ndjson.gz')
      .exec();
    const expected: UnitState = {
      gen: 3,
      since: 1_796_500_000_123,
      length: 16,
      pending: ['1', '2'],
      sealedBytes: 4096,
      manifestPending: 3,
      quarantinePending: 4,
      stats: { accepted: '5', landed: '2', lastObject: 'stream=x/a.ndjson.gz' },
    };
    expect(await readEachWay(stream)).toEqual([expected, expected, expected]);
  });

  it('reads a unit none of whose keys exist as empty, each way', async () => {
    const empty: UnitState = {
      gen: 0,
      since: null,
      length: 0,
      pending: [],
      sealedBytes: 0,
      manifestPending: 0,
      quarantinePending: 0,
      stats: {},
    };
    expect(await readEachWay(randomName('none'))).toEqual([empty, empty, empty]);
  });
});
