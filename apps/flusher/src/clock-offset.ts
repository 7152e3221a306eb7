import { type RedisClient, redisNow, repeatedLog } from '@spool/shared';
import type { Logger } from 'pino';
import type { FlusherMetrics } from './metrics.js';

/** How far a flusher's clock may be from Redis's before it warns. */
const WARN_PAST_MS = 5_000;
/**
 * The longest round trip of a reading that counts: a TIME that waited (in ioredis's queue while
 * Redis was away, or on a busy Redis) measured the wait as an offset, and a flusher on Redis's
 * own host warned of a clock 5 s off after Redis restarted (a review's run).
 */
const MAX_ROUND_TRIP_MS = 1_000;

/**
 * A check, run at each sweep tick on every flusher (sweeping or not), of this flusher's clock
 * against Redis's: a gauge, and a warning once in 10 minutes past WARN_PAST_MS. BullMQ dates a
 * failed flush's retry by the failing flusher's clock and runs it by the clock of the one that
 * looks: a flusher an hour ahead ran every other flusher's retries with no backoff, some ten
 * times as many attempts in an S3 outage (a review's run), and nothing said why.
 */
export function clockOffsetCheck(deps: {
  redis: RedisClient;
  metrics: Pick<FlusherMetrics, 'clockOffset'>;
  logger: Pick<Logger, 'warn' | 'error' | 'info'>;
}): () => Promise<void> {
  const warn = repeatedLog(
    deps.logger,
    "this flusher's clock is off Redis's: flush retries run early or late (keep the hosts' clocks synced)",
    { everyMs: 10 * 60_000 },
  );
  return async () => {
    const sent = Date.now();
    const sentAt = performance.now();
    const redisTime = await redisNow(deps.redis);
    if (performance.now() - sentAt > MAX_ROUND_TRIP_MS) return;
    const answered = Date.now();
    // Against the middle of the round trip: when Redis read its clock, as near as can be told.
    const offsetMs = (sent + answered) / 2 - redisTime;
    deps.metrics.clockOffset.set(offsetMs / 1000);
    if (Math.abs(offsetMs) > WARN_PAST_MS)
      warn(undefined, { clockOffsetSeconds: Math.round(offsetMs / 1000) });
  };
}
