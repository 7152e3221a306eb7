import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { RedisClient } from '@spool/shared';
import { FlusherWatch } from './flusher-watch.js';

/** What Redis answers each look: the flushers' mark there (1), not there (0), or an error (Redis away). */
let answer: () => Promise<number>;
const changes: boolean[] = [];
const logger = { warn: () => {}, info: () => {} };

function startWatch(): FlusherWatch {
  const redis = { exists: () => answer() } as unknown as RedisClient;
  const watch = new FlusherWatch({
    redis,
    namespace: 'spool',
    logger,
    onChange: (seen) => changes.push(seen),
    lookEveryMs: 1_000,
    unseenAfterMs: 10_000,
  });
  watch.start();
  return watch;
}

beforeEach(() => {
  jest.useFakeTimers({ now: 0 });
  changes.length = 0;
});
afterEach(() => {
  jest.useRealTimers();
});

describe('FlusherWatch', () => {
  it('takes none for none only after the whole quiet time without the mark', async () => {
    answer = async () => 0;
    const watch = startWatch();
    await jest.advanceTimersByTimeAsync(9_000);
    expect(changes).toEqual([]);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(changes).toEqual([false]);
    watch.stop();
  });

  it('keeps seeing a flusher whose mark most looks miss', async () => {
    let look = 0;
    answer = async () => (++look % 9 === 0 ? 1 : 0); // seen once in 9 s
    const watch = startWatch();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(changes).toEqual([]);
    watch.stop();
  });

  it('does not count the time Redis did not answer as time without a flusher', async () => {
    answer = async () => {
      throw new Error('Connection is closed.');
    };
    const watch = startWatch();
    await jest.advanceTimersByTimeAsync(30_000);
    expect(changes).toEqual([]);
    // Redis back, the flushers not yet ticking: the quiet time starts now.
    answer = async () => 0;
    await jest.advanceTimersByTimeAsync(9_000);
    expect(changes).toEqual([]);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(changes).toEqual([false]);
    watch.stop();
  });

  it('says once that none runs, and once that one does again', async () => {
    answer = async () => 0;
    const watch = startWatch();
    await jest.advanceTimersByTimeAsync(30_000);
    answer = async () => 1;
    await jest.advanceTimersByTimeAsync(5_000);
    expect(changes).toEqual([false, true]);
    watch.stop();
  });
});
