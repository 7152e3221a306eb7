import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { withinDeadline } from './deadline.js';

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

/** withinDeadline of `w`, 10 s, told its progress unless `withProgress` is false; its answer or error message. */
function deadlineOf(w: ReturnType<typeof work>, withProgress = true) {
  return withinDeadline(w.done, {
    ms: 10_000,
    signal: new AbortController().signal,
    source: 'Redis',
    ...(withProgress ? { progress: w.progress } : {}),
  }).then(
    (value) => value,
    (error: Error) => error.message,
  );
}

/** A promise settled by hand, and the work's progress, moved by hand. */
function work() {
  let finish: (value: string) => void = () => {};
  const done = new Promise<string>((resolve) => {
    finish = resolve;
  });
  const state = { items: undefined as number | undefined };
  return { done, finish, state, progress: () => state.items };
}

describe('a deadline that counts from the last progress', () => {
  it('waits for work that keeps moving past the deadline', async () => {
    const w = work();
    const answer = deadlineOf(w);
    for (let second = 1; second <= 30; second++) {
      w.state.items = second * 5_000;
      await jest.advanceTimersByTimeAsync(1_000);
    }
    w.finish('read');
    await expect(answer).resolves.toBe('read');
  });

  it('fails once the work stops moving for the whole deadline, naming its source', async () => {
    const w = work();
    const outcome = deadlineOf(w);
    w.state.items = 1_000;
    await jest.advanceTimersByTimeAsync(5_000);
    w.state.items = 2_000;
    await jest.advanceTimersByTimeAsync(9_000);
    let settled = false;
    void outcome.then(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(false);
    await jest.advanceTimersByTimeAsync(2_000);
    await expect(outcome).resolves.toBe('Redis did not answer within 10 s');
  });

  it('fails work with no progress to show after the deadline', async () => {
    const outcome = deadlineOf(work(), false);
    await jest.advanceTimersByTimeAsync(10_000);
    await expect(outcome).resolves.toBe('Redis did not answer within 10 s');
  });

  it('answers undefined once the command is stopped', async () => {
    const w = work();
    const stop = new AbortController();
    const answer = withinDeadline(w.done, { ms: 10_000, signal: stop.signal, source: 'Redis' });
    stop.abort();
    await expect(answer).resolves.toBeUndefined();
  });
});
