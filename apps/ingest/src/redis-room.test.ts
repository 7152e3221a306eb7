import { describe, expect, it } from '@jest/globals';
import { parseInfo } from '@spool/shared';
import { nearMaxmemory } from './redis-room.js';

const MiB = 1024 * 1024;
const info = (used: number, maxmemory: number) =>
  parseInfo(
    `# Memory\r\nused_memory:${used}\r\nused_memory_human:1M\r\nmaxmemory:${maxmemory}\r\nmaxmemory_human:1M\r\nmaxmemory_policy:noeviction\r\n`,
  );

describe('nearMaxmemory', () => {
  it('checks appends from half of maxmemory, or from twice the reserve below it when that is lower', () => {
    expect(nearMaxmemory(info(499 * MiB, 1000 * MiB), { percent: 10 })).toBe(false);
    expect(nearMaxmemory(info(500 * MiB, 1000 * MiB), { percent: 10 })).toBe(true);
    // A reserve of 40%: from 20% of maxmemory.
    expect(nearMaxmemory(info(199 * MiB, 1000 * MiB), { percent: 40 })).toBe(false);
    expect(nearMaxmemory(info(200 * MiB, 1000 * MiB), { percent: 40 })).toBe(true);
    // A reserve in bytes larger than maxmemory: always.
    expect(nearMaxmemory(info(1, 64 * MiB), { bytes: 128 * MiB })).toBe(true);
  });

  it('never checks on a Redis without maxmemory; checks when it cannot read the use', () => {
    expect(nearMaxmemory(info(10_000 * MiB, 0), { percent: 10 })).toBe(false);
    expect(nearMaxmemory(parseInfo('# Memory\r\nmaxmemory:1000\r\n'), { percent: 10 })).toBe(true);
  });
});
