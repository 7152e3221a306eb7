import type { Logger } from 'pino';

/**
 * BullMQ's worker takes jobs over a blocking connection of its own. On a Redis Cluster that
 * connection can wedge for good after an outage (a master hung long enough for the cluster to
 * fail, then back): the worker stays "running", takes nothing, and logs nothing, while every
 * stream's flush waits and the buffers fill (reproduced in 5 tries of 6; upstream,
 * taskforcesh/bullmq#4138, where the maintainers' advice is to close the worker and make a new
 * one). A healthy worker with a free slot takes a waiting job at once, so one that sees jobs
 * waiting at every check for `wedgedAfterMs`, with no job of its own in hand and none started, is
 * wedged: it is replaced, on a new connection.
 */
export interface WatchdogTiming {
  checkEveryMs: number;
  wedgedAfterMs: number;
}

/**
 * A minute of jobs waiting untouched: past the longest a healthy worker's blocking wait takes to
 * come round (BullMQ's drainDelay, 5 s) many times over, well under FLUSH_INTERVAL's default.
 */
export const WATCHDOG_TIMING: Readonly<WatchdogTiming> = Object.freeze({
  checkEveryMs: 10_000,
  wedgedAfterMs: 60_000,
});

export interface WorkerActivity {
  /** Jobs this process is running now. */
  active: number;
  /** Jobs this process has started since it began (a counter). */
  started: number;
}

export interface WatchdogDeps {
  timing: WatchdogTiming;
  /** Jobs waiting in the queue; throws when Redis does not say (the check is then skipped). */
  waitingJobs(): Promise<number>;
  activity(): WorkerActivity;
  /** Closes the wedged worker and starts another. */
  replace(): Promise<void>;
  logger: Pick<Logger, 'error' | 'warn'>;
}

/** Starts the checks; `stop()` ends them (at shutdown, before the worker closes). */
export function watchWorker(deps: WatchdogDeps): { stop(): void } {
  const { timing, logger } = deps;
  let stuckSince: number | undefined;
  let startedAtLastCheck = deps.activity().started;
  let checking = false;

  const check = async () => {
    if (checking) return;
    checking = true;
    try {
      const { active, started } = deps.activity();
      const tookOne = started !== startedAtLastCheck;
      startedAtLastCheck = started;
      const waiting = active === 0 && !tookOne ? await deps.waitingJobs() : 0;
      if (waiting === 0) {
        stuckSince = undefined;
        return;
      }
      stuckSince ??= performance.now();
      const stuckMs = performance.now() - stuckSince;
      if (stuckMs < timing.wedgedAfterMs) return;
      logger.error(
        { waiting, stuckMs },
        'the flush worker took no job while jobs waited (a wedged Redis connection, as after a Redis Cluster outage); replacing it',
      );
      stuckSince = undefined;
      await deps.replace();
    } catch (error) {
      // Redis did not answer the count: no verdict this time (the sweep's alerts cover Redis).
      stuckSince = undefined;
      logger.warn({ err: error }, 'the flush worker watchdog could not count the waiting jobs');
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(check, timing.checkEveryMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
