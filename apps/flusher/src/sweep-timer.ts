import { type RedisClient, repeatedLog, within } from '@spool/shared';
import type { Logger } from 'pino';

/** Deletes the lease (KEYS[1]) if its holder is ARGV[1]: one that expired and was taken since is another's. */
const RELEASE_IF_HELD =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** How long a flusher's mark on its namespace outlives its last tick (flusherAliveKey). */
const ALIVE_MS = 120_000;

/**
 * A tick's outcome at one flusher: it swept (`ran`), its sweep failed (`failed`), another flusher
 * had the tick (`skipped`), or Redis refused or did not answer the lease (`lease_failed`). A tick
 * whose lease fails fails at every flusher: counted apart, so that alerts count such a tick once,
 * not once a flusher (SpoolSweepFailing fired at 2 flushers with 40 % of ticks failing, a review's run).
 */
export type SweepTickOutcome = 'ran' | 'failed' | 'skipped' | 'lease_failed';

export interface SweepTimerOptions {
  redis: RedisClient;
  /** The lease key: the flusher holding it sweeps this tick. */
  leaseKey: string;
  /** Set at every tick, sweeping or not, for ALIVE_MS: the ingests look for it (flusherAliveKey). */
  aliveKey: string;
  /** Who holds the lease (for whoever reads it in Redis). */
  holder: string;
  everyMs: number;
  sweep: () => Promise<unknown>;
  /** Called with each tick's outcome (SweepTickOutcome). */
  onTick?: (outcome: SweepTickOutcome) => void;
  logger: Logger;
}

export interface SweepTimer {
  /** Stops ticking; resolves once a sweep in progress has finished. */
  stop(): Promise<void>;
}

/**
 * Runs the sweep on every flusher's own timer, and on one flusher per tick: the one that takes the
 * tick's lease (`SET NX PX everyMs`). A timer in the process, not a BullMQ job scheduler: a
 * scheduler's next run is a write to Redis that a failover can lose (async replication), and BullMQ
 * then never schedules another, while the sweep is what re-adds the flush jobs a failover lost.
 * A sweep that fails is retried on the next tick; two sweeps at once (one outlasting its lease)
 * are harmless, as every sweep is.
 */
export function startSweepTimer(options: SweepTimerOptions): SweepTimer {
  const { redis, leaseKey, aliveKey, holder, everyMs, sweep, onTick, logger } = options;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  // Once per 10 s at most, with the count since: while Redis refuses (OOM, a failover) every tick
  // fails, and a short FLUSH_INTERVAL ticks every second.
  const logFailure = repeatedLog(logger, 'sweep failed; the next tick tries again');

  const tick = async () => {
    // Not waited on, and its failure ignored: a Redis refusing it must not keep the sweep from
    // trying. Ticks come 30 s apart at most, after the sweep before: 2 minutes is room. Kept by
    // PEXPIRE, which Redis at maxmemory still takes, where it refuses SET: the mark expired, and
    // the ingests said no flusher ran while the flushers ran (a review's run).
    redis
      .pexpire(aliveKey, ALIVE_MS)
      .then((kept) => (kept === 1 ? undefined : redis.set(aliveKey, holder, 'PX', ALIVE_MS)))
      .catch(() => {});
    onTick?.(await tickOutcome());
  };
  const tickOutcome = async (): Promise<SweepTickOutcome> => {
    let leased: boolean;
    try {
      leased = (await redis.set(leaseKey, holder, 'PX', everyMs, 'NX')) === 'OK';
    } catch (error) {
      logFailure(error);
      return 'lease_failed';
    }
    if (!leased) return 'skipped';
    try {
      await sweep();
      return 'ran';
    } catch (error) {
      logFailure(error);
      return 'failed';
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = tick().finally(schedule);
    }, everyMs);
    timer.unref();
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      // The tick's lease let go if this flusher holds it: held for its own tick (30 s at a
      // FLUSH_INTERVAL of 5 minutes or more), it kept the flusher started in its place with a
      // shorter FLUSH_INTERVAL from sweeping that long (a review's run). A failure leaves it to
      // expire; and a Redis away is waited for a second at most, not for its client's retries
      // (a shutdown took 6 s more).
      await within(redis.eval(RELEASE_IF_HELD, 1, leaseKey, holder), 1_000);
    },
  };
}
