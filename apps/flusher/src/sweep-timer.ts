import { type RedisClient, repeatedLog } from '@spool/shared';
import type { Logger } from 'pino';

/** How long a flusher's mark on its namespace outlives its last tick (flusherAliveKey). */
const ALIVE_MS = 120_000;

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
  /** Called with each tick's outcome: the sweep ran, failed, or another flusher had the tick. */
  onTick?: (outcome: 'ran' | 'failed' | 'skipped') => void;
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
    // Not waited on, and its failure ignored: a Redis refusing it (OOM) must not keep the sweep
    // from trying. Ticks come 30 s apart at most, after the sweep before: 2 minutes is room.
    redis.set(aliveKey, holder, 'PX', ALIVE_MS).catch(() => {});
    let outcome: 'ran' | 'failed' | 'skipped' = 'skipped';
    try {
      if ((await redis.set(leaseKey, holder, 'PX', everyMs, 'NX')) === 'OK') {
        await sweep();
        outcome = 'ran';
      }
    } catch (error) {
      outcome = 'failed';
      logFailure(error);
    }
    onTick?.(outcome);
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
    },
  };
}
