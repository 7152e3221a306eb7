import { flusherAliveKey, type RedisClient } from '@spool/shared';
import type { FastifyBaseLogger } from 'fastify';

/** How often the ingest looks for the flushers' mark on its namespace: one EXISTS. */
const LOOK_EVERY_MS = 10_000;

/**
 * The mark not seen for this long: no flusher runs on the namespace. Every flusher sets it at each
 * sweep tick (30 s apart at most, after the sweep before) to last 2 minutes: none for 5 minutes
 * since the last tick, all told.
 */
const UNSEEN_AFTER_MS = 3 * 60_000;

export interface FlusherWatchOptions {
  redis: RedisClient;
  namespace: string;
  logger: Pick<FastifyBaseLogger, 'warn' | 'info'>;
  /** Called as the answer changes: a flusher runs on the namespace (true), or none has (false). */
  onChange: (seen: boolean) => void;
  /** Shorter in tests only. */
  lookEveryMs?: number;
  unseenAfterMs?: number;
}

/**
 * Whether any flusher runs on this ingest's namespace, from the mark each flusher sets at every
 * sweep tick (flusherAliveKey). An ingest and flushers that differ in REDIS_NAMESPACE, or in
 * Redis (REDIS_URL's server or database), each look healthy on their own, while the accepted
 * events wait in a namespace no flusher reads: this is how the ingest can tell, and say so.
 */
export class FlusherWatch {
  private seen = true;
  private lastSeenAt = performance.now();
  private looking = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly aliveKey: string;

  constructor(private readonly options: FlusherWatchOptions) {
    this.aliveKey = flusherAliveKey(options.namespace);
  }

  /** Looks now, then every LOOK_EVERY_MS until `stop()`. */
  start(): void {
    this.lastSeenAt = performance.now();
    void this.look();
    this.timer = setInterval(() => void this.look(), this.options.lookEveryMs ?? LOOK_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look for the mark. */
  async look(): Promise<void> {
    if (this.looking) return; // a slow answer: the next look waits for it
    this.looking = true;
    try {
      const present = (await this.options.redis.exists(this.aliveKey)) === 1;
      this.judge(present);
    } catch {
      // Redis away (its own errors are logged and answered 503): not knowing is not seeing none.
      // The quiet time starts again once Redis answers, when the flushers' ticks resume too.
      this.lastSeenAt = performance.now();
    } finally {
      this.looking = false;
    }
  }

  private judge(present: boolean): void {
    const { logger, namespace, onChange } = this.options;
    if (present) {
      this.lastSeenAt = performance.now();
      if (this.seen) return;
      this.seen = true;
      onChange(true);
      logger.info({ namespace }, 'a flusher runs on this namespace again');
      return;
    }
    const quietMs = performance.now() - this.lastSeenAt;
    if (!this.seen || quietMs < (this.options.unseenAfterMs ?? UNSEEN_AFTER_MS)) return;
    this.seen = false;
    onChange(false);
    logger.warn(
      { namespace },
      "no flusher has run on this namespace for 3 minutes or more: accepted events wait in Redis until one does. If flushers run, they read another REDIS_NAMESPACE or another Redis (REDIS_URL's server or database): give them the ingest's",
    );
  }
}
