import { LATE, settledWithin } from '@spool/shared';

/** How often a reading may start, how long an answer waits for one under way, when one has stalled. */
export interface ReadingTimes {
  /** Answers closer than this reuse the last reading: many open pages cost Redis one reading. */
  everyMs: number;
  /** How long an answer waits for the reading under way before answering from the last one done. */
  patienceMs: number;
  /** A reading with no progress for this long has stalled (Redis hung or gone): it is waited for. */
  stalledAfterMs: number;
  /**
   * How long a viewer that keeps looking may wait between two asks (the status page's and `spool
   * status`'s 2 s, with room): the last reading done is answered while it is no older than this,
   * and twice what it took, past everyMs and patienceMs: as old as readings one after another make it.
   */
  viewerGapMs: number;
}

export const STATUS_READING_TIMES: ReadingTimes = {
  everyMs: 1_000,
  patienceMs: 1_000,
  stalledAfterMs: 1_000,
  viewerGapMs: 5_000,
};

/**
 * When to read again, and what to answer while a reading goes on, for a reading that may take
 * seconds (the status of many streams, docs/operations.md): at most one reading at a time and one
 * per `everyMs`; an answer waits `patienceMs` for the reading under way, then, while that reading
 * still makes progress, answers from the last one done if that is recent (see viewerGapMs). A
 * reading that has stalled is waited for, so that a hung Redis is said (by the caller's own
 * deadline), not hidden behind an old answer; and so is one after a while that nobody asked: the
 * last one done is then as old as that while, and answered so, a one-off `spool status` printed
 * the state of 15 minutes before as now (a review's 20,000 streams).
 *
 * `read` is given the last reading done (for rates) and a callback to call as it moves on.
 */
export function latestReading<T>(
  read: (previous: T | undefined, progressed: (items: number) => void) => Promise<T>,
  times: ReadingTimes = STATUS_READING_TIMES,
) {
  let last: { value: T; at: number; tookMs: number } | undefined;
  let reading: Promise<T> | undefined;
  let progress = { at: 0, items: 0 };
  const moving = () => reading !== undefined && performance.now() - progress.at < times.stalledAfterMs;
  const recent = (done: { at: number; tookMs: number }) =>
    performance.now() - done.at <= times.everyMs + times.patienceMs + 2 * done.tookMs + times.viewerGapMs;

  const start = (): Promise<T> => {
    const started = performance.now();
    progress = { at: started, items: 0 };
    return read(last?.value, (items) => {
      progress = { at: performance.now(), items: progress.items + items };
    })
      .then((value) => {
        last = { value, at: performance.now(), tookMs: performance.now() - started };
        return value;
      })
      .finally(() => {
        reading = undefined;
      });
  };

  return {
    async get(): Promise<T> {
      if (!last || performance.now() - last.at >= times.everyMs) reading ??= start();
      if (!reading) return (last as { value: T }).value;
      if (!last) return reading;
      const fresh = await settledWithin(reading, times.patienceMs);
      if (fresh !== LATE) return fresh;
      return moving() && recent(last) ? last.value : (reading ?? last.value);
    },
    /** The items read so far by a reading under way that still moves on; undefined otherwise. */
    progress(): number | undefined {
      return moving() ? progress.items : undefined;
    },
  };
}
