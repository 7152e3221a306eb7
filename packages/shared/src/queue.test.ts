import { describe, expect, it } from '@jest/globals';
import { flushBackoffDelay, flushJobId, parseFlushJobId } from './queue.js';
import { crossedThreshold } from './scripts.js';

describe('flush job ids', () => {
  it('are deterministic per stream and generation, without the ":" BullMQ refuses', () => {
    expect(flushJobId('web-app', 7)).toBe('web-app@7');
    expect(flushJobId('web-app', 7)).not.toContain(':');
    expect(parseFlushJobId('web-app@7')).toEqual({ stream: 'web-app', gen: 7 });
    expect(parseFlushJobId('web-app#3@7')).toEqual({ stream: 'web-app#3', gen: 7 });
  });

  it.each(['web', '@1', 'Web@1', 'web@-1', 'web@1.5', 'web@1@2', 'web#0@1', 'web#64@1', 'web#@1'])(
    'refuses %p',
    (id) => {
      expect(parseFlushJobId(id)).toBeUndefined();
    },
  );
});

describe('flushBackoffDelay', () => {
  it('doubles from one second and stops at five minutes', () => {
    expect([1, 2, 3, 4].map((n) => flushBackoffDelay(n))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3].map((n) => flushBackoffDelay(n, 100, 250))).toEqual([100, 200, 250]);
    expect(flushBackoffDelay(12)).toBe(300_000);
    expect(flushBackoffDelay(10_000)).toBe(300_000);
  });
});

describe('crossedThreshold', () => {
  it('is true only for the append that took the length from below the threshold to at or above it', () => {
    expect(crossedThreshold(99, 10, 100)).toBe(false);
    expect(crossedThreshold(100, 10, 100)).toBe(true);
    expect(crossedThreshold(150, 60, 100)).toBe(true);
    expect(crossedThreshold(150, 50, 100)).toBe(false);
    expect(crossedThreshold(500, 500, 100)).toBe(true);
  });
});
