import { describe, expect, it } from '@jest/globals';
import { generationOfKey, objectKey } from './s3-object.js';

describe('objectKey', () => {
  it("partitions by the buffer start, in UTC, Hive style, whatever the host's time zone", () => {
    const since = Date.parse('2026-11-27T03:05:09.007Z');
    // The tests' clock (jest.config.mjs) is not UTC: a key made from local time would differ.
    expect(new Date(since).getHours()).not.toBe(3);
    expect(objectKey('events/', 'web', since, 42)).toBe(
      'events/stream=web/dt=2026-11-27/hour=03/web-20261127T030509007Z-42.ndjson.gz',
    );
  });

  it('puts the shards of a sharded stream in the same partition, each under its own name', () => {
    const since = Date.parse('2026-11-27T03:05:09.007Z');
    expect(objectKey('', 'web', since, 42, 0)).toBe(objectKey('', 'web', since, 42));
    expect(objectKey('', 'web', since, 42, 3)).toBe(
      'stream=web/dt=2026-11-27/hour=03/web-20261127T030509007Z-42-s3.ndjson.gz',
    );
  });

  it('gives a retry the same key', () => {
    expect(objectKey('', 'ios', 1_700_000_000_000, 0)).toBe(objectKey('', 'ios', 1_700_000_000_000, 0));
    expect(objectKey('', 'ios', 1_700_000_000_000, 0)).toBe(
      'stream=ios/dt=2023-11-14/hour=22/ios-20231114T221320000Z-0.ndjson.gz',
    );
  });
});

describe('generationOfKey', () => {
  it('gives back the generation and shard objectKey wrote, in every format, and nothing for another key', () => {
    const since = Date.parse('2026-11-27T03:05:09.007Z');
    expect(generationOfKey(objectKey('events/', 'web-2', since, 42))).toEqual({ gen: 42, shard: 0 });
    expect(generationOfKey(objectKey('', 'web', since, 7, 3, 'parquet'))).toEqual({ gen: 7, shard: 3 });
    expect(generationOfKey(objectKey('', 'web', since, 0, 0, 'ndjson.zst'))).toEqual({ gen: 0, shard: 0 });
    expect(generationOfKey('stream=web/dt=2026-11-27/hour=03/notes.txt')).toBeUndefined();
  });
});
