import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { pino } from 'pino';
import { type WorkerActivity, watchWorker } from './worker-watchdog.js';

/** The watchdog's verdicts over `ms` of fake time, checking every second, wedged after 5 s. */
async function replacementsOver(
  ms: number,
  waitingJobs: () => Promise<number>,
  activity: (tick: number) => WorkerActivity,
): Promise<number> {
  let replaced = 0;
  let tick = 0;
  const watchdog = watchWorker({
    timing: { checkEveryMs: 1_000, wedgedAfterMs: 5_000 },
    waitingJobs,
    activity: () => activity(tick++),
    replace: async () => {
      replaced += 1;
    },
    logger: pino({ level: 'silent' }),
  });
  await jest.advanceTimersByTimeAsync(ms);
  watchdog.stop();
  return replaced;
}

describe('the flush worker watchdog', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('replaces a worker that took nothing, and held nothing, while jobs waited at every check', async () => {
    expect(
      await replacementsOver(
        6_500,
        async () => 3,
        () => ({ active: 0, started: 0 }),
      ),
    ).toBe(1);
  });

  it('never replaces a worker that takes jobs, even with more always waiting (a backlog)', async () => {
    expect(
      await replacementsOver(
        30_000,
        async () => 50,
        (tick) => ({ active: 0, started: tick }),
      ),
    ).toBe(0);
  });

  it('never replaces a worker with a job in hand: a long flush is no wedge, and closing it would drop the job', async () => {
    expect(
      await replacementsOver(
        30_000,
        async () => 5,
        () => ({ active: 1, started: 1 }),
      ),
    ).toBe(0);
  });

  it('counts a wait anew after the worker took a job: two brief waits 20 s apart are no wedge', async () => {
    // A job waited, untaken, at the checks of ticks 1 and 22 alone; between them the worker took one each second.
    expect(
      await replacementsOver(
        30_000,
        async () => 1,
        (tick) => ({ active: 0, started: tick === 1 || tick === 22 ? tick - 1 : tick }),
      ),
    ).toBe(0);
  });

  it('never replaces an idle worker when nothing waits', async () => {
    expect(
      await replacementsOver(
        30_000,
        async () => 0,
        () => ({ active: 0, started: 0 }),
      ),
    ).toBe(0);
  });

  it('starts counting again after a check that could not count (Redis down): no verdict on a gap', async () => {
    let calls = 0;
    // Every fourth count fails: never five seconds of waiting seen in a row.
    const waiting = async () => {
      calls += 1;
      if (calls % 4 === 0) throw new Error('Redis did not answer');
      return 2;
    };
    expect(await replacementsOver(30_000, waiting, () => ({ active: 0, started: 0 }))).toBe(0);
  });
});
