import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { latestReading } from './latest-reading.js';

const times = { everyMs: 1_000, patienceMs: 1_000, stalledAfterMs: 1_000, viewerGapMs: 5_000 };

/** Readings the test ends by hand: each numbered, moving on when the test says. */
function controlledReadings() {
  const started: Array<{
    previous: number | undefined;
    finish(): void;
    fail(error: Error): void;
    progressed(n: number): void;
  }> = [];
  const read = (previous: number | undefined, progressed: (n: number) => void) =>
    new Promise<number>((resolve, reject) => {
      const n = started.length + 1;
      started.push({ previous, finish: () => resolve(n), fail: reject, progressed });
    });
  return { started, read };
}

/** The state of a promise once the timers and microtasks up to now have run. */
async function stateOf<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown; pending: boolean }> {
  const state: { value?: T; error?: unknown; pending: boolean } = { pending: true };
  promise.then(
    (value) => Object.assign(state, { value, pending: false }),
    (error: unknown) => Object.assign(state, { error, pending: false }),
  );
  await jest.advanceTimersByTimeAsync(0);
  return state;
}

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

describe('latestReading', () => {
  it('waits for the first reading, then reuses it for everyMs, then reads again with it as previous', async () => {
    const { started, read } = controlledReadings();
    const reading = latestReading(read, times);
    const first = reading.get();
    started[0]?.finish();
    expect(await first).toBe(1);
    expect(await reading.get()).toBe(1);
    expect(started).toHaveLength(1);

    await jest.advanceTimersByTimeAsync(1_000);
    const second = reading.get();
    expect(started).toHaveLength(2);
    expect(started[1]?.previous).toBe(1);
    started[1]?.finish();
    expect(await second).toBe(2);
  });

  it('answers from the last reading done while a long one moves on, and says how far it has got', async () => {
    const { started, read } = controlledReadings();
    const reading = latestReading(read, times);
    const first = reading.get();
    started[0]?.finish();
    await first;
    await jest.advanceTimersByTimeAsync(1_000);

    const answer = reading.get();
    await jest.advanceTimersByTimeAsync(500);
    started[1]?.progressed(500);
    await jest.advanceTimersByTimeAsync(500);
    expect(await stateOf(answer)).toEqual({ value: 1, pending: false });
    expect(reading.progress()).toBe(500);
    // Another viewer meanwhile starts no second reading, and gets the last one done too.
    const another = reading.get();
    await jest.advanceTimersByTimeAsync(500);
    started[1]?.progressed(500);
    await jest.advanceTimersByTimeAsync(500);
    expect(await stateOf(another)).toEqual({ value: 1, pending: false });
    expect(started).toHaveLength(2);
    expect(reading.progress()).toBe(1_000);
    started[1]?.finish();
    await jest.advanceTimersByTimeAsync(0);
    expect(reading.progress()).toBeUndefined();
  });

  it('waits for the reading under way after a while nobody asked: the last one done is that old', async () => {
    const { started, read } = controlledReadings();
    const reading = latestReading(read, times);
    const first = reading.get();
    await jest.advanceTimersByTimeAsync(2_000);
    started[0]?.finish(); // took 2 s
    await first;
    // Readings one after another: the last one done is answered while the next moves on...
    await jest.advanceTimersByTimeAsync(1_000);
    const soon = reading.get();
    await jest.advanceTimersByTimeAsync(500);
    started[1]?.progressed(100);
    await jest.advanceTimersByTimeAsync(500);
    expect(await stateOf(soon)).toEqual({ value: 1, pending: false });
    started[1]?.finish();
    await jest.advanceTimersByTimeAsync(0);

    // ...but not once it is older than two of its readings and a viewer's gap.
    await jest.advanceTimersByTimeAsync(60_000);
    const later = reading.get();
    for (let i = 0; i < 3; i += 1) {
      await jest.advanceTimersByTimeAsync(500);
      started[2]?.progressed(100);
    }
    expect((await stateOf(later)).pending).toBe(true);
    expect(reading.progress()).toBe(300);
    started[2]?.finish();
    expect(await later).toBe(3);
  });

  it('waits for a reading that has stalled instead of hiding it behind the last answer, and passes on its failure', async () => {
    const { started, read } = controlledReadings();
    const reading = latestReading(read, times);
    const first = reading.get();
    started[0]?.finish();
    await first;
    await jest.advanceTimersByTimeAsync(1_000);

    const answer = reading.get();
    await jest.advanceTimersByTimeAsync(1_000); // no progress for stalledAfterMs
    expect((await stateOf(answer)).pending).toBe(true);
    expect(reading.progress()).toBeUndefined();
    started[1]?.fail(new Error('Redis went away'));
    expect((await stateOf(answer)).error).toEqual(new Error('Redis went away'));

    // The next answer starts a reading of its own.
    const again = reading.get();
    expect(started).toHaveLength(3);
    started[2]?.finish();
    expect(await again).toBe(3);
  });

  it('waits whole for the first reading, however long it takes: there is nothing older to answer', async () => {
    const { started, read } = controlledReadings();
    const reading = latestReading(read, times);
    const answer = reading.get();
    for (let i = 0; i < 5; i += 1) {
      await jest.advanceTimersByTimeAsync(900);
      started[0]?.progressed(100);
    }
    expect((await stateOf(answer)).pending).toBe(true);
    expect(reading.progress()).toBe(500);
    started[0]?.finish();
    expect(await answer).toBe(1);
  });
});
