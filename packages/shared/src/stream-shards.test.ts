import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { loadConfig } from './config.js';
import {
  parseShardUnit,
  shardCount,
  shardLimits,
  shardOfMessageId,
  shardUnit,
  streamOfUnit,
} from './stream-shards.js';

const OPEN = { ALLOW_ANONYMOUS_WRITES: 'true' };

describe('shard units', () => {
  it('name shard 0 as the stream itself, and the others <stream>#<n>', () => {
    expect(shardUnit('web', 0)).toBe('web');
    expect(shardUnit('web', 3)).toBe('web#3');
    expect(parseShardUnit('web#3')).toEqual({ stream: 'web', shard: 3 });
    expect(parseShardUnit('web')).toEqual({ stream: 'web', shard: 0 });
    expect(streamOfUnit('web#63')).toBe('web');
  });

  it.each(['web#0', 'web#64', 'web#', '#1', 'Web#1', 'web#1#2', 'web#01'])('refuses %p', (unit) => {
    expect(parseShardUnit(unit)).toBeUndefined();
  });

  it('round-trip for every stream name and shard', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,63}$/),
        fc.integer({ min: 0, max: 63 }),
        (stream: string, shard: number) => {
          expect(parseShardUnit(shardUnit(stream, shard))).toEqual({ stream, shard });
        },
      ),
    );
  });
});

describe('shardOfMessageId', () => {
  it('is FNV-1a, fixed for good: a retry must reach the shard of its first copy', () => {
    // The FNV-1a test vectors: fnv1a32("a") = 0xe40c292c, fnv1a32("foobar") = 0xbf9cf968.
    expect(shardOfMessageId('a', 1_000_000)).toBe(0xe40c292c % 1_000_000);
    expect(shardOfMessageId('foobar', 1_000_000)).toBe(0xbf9cf968 % 1_000_000);
    expect(shardOfMessageId('', 3)).toBe(0x811c9dc5 % 3);
    expect(shardOfMessageId('anything', 1)).toBe(0);
  });

  it('spreads ids evenly', () => {
    const counts = new Map<number, number>();
    for (let i = 0; i < 40_000; i += 1) {
      const shard = shardOfMessageId(`event-${i}`, 4);
      counts.set(shard, (counts.get(shard) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([0, 1, 2, 3]);
    for (const count of counts.values()) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });
});

describe('STREAM_SHARDS', () => {
  it('takes one count for every stream, or counts by stream with a default', () => {
    expect(shardCount(loadConfig({ ...OPEN, STREAM_SHARDS: '4' }, 'ingest').streamShards, 'any')).toBe(4);
    const { streamShards } = loadConfig({ ...OPEN, STREAM_SHARDS: 'web:8, clicks:2, *:3' }, 'ingest');
    expect([
      shardCount(streamShards, 'web'),
      shardCount(streamShards, 'clicks'),
      shardCount(streamShards, 'x'),
    ]).toEqual([8, 2, 3]);
    expect(shardCount(loadConfig(OPEN, 'ingest').streamShards, 'web')).toBe(1);
  });

  it.each(['0', '65', 'web', 'web:', 'Web:2', 'web:2;x:3', 'web:1.5'])('refuses %p', (text) => {
    expect(() => loadConfig({ ...OPEN, STREAM_SHARDS: text }, 'ingest')).toThrow(/STREAM_SHARDS/);
  });

  it('refuses shards too small to take one request beside their share of the threshold', () => {
    // 128 MiB / 64 = 2 MiB a shard, under 0.5 MiB + 2 × 1 MiB.
    expect(() => loadConfig({ ...OPEN, STREAM_SHARDS: 'web:64' }, 'ingest')).toThrow(
      /STREAM_SHARDS: web:64 leaves each shard 2097152 bytes/,
    );
    expect(() => loadConfig({ ...OPEN, STREAM_SHARDS: 'web:32' }, 'ingest')).not.toThrow();
  });

  it('divides the threshold and the maximum among the shards', () => {
    expect(shardLimits({ flushThresholdBytes: 10, maxBufferBytes: 41 }, 4)).toEqual({
      flushThresholdBytes: 3,
      maxBufferBytes: 10,
    });
  });
});
