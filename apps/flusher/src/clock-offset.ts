import { type RedisClient, redisNow, repeatedLog } from '@spool/shared';
import type { Logger } from 'pino';
import type { FlusherMetrics } from './metrics.js';

/** How far a flusher's clock may be from Redis's before it warns (the read's round trip is within it). */
const WARN_PAST_MS = 5_000;

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
  logger: Pick<Logger, 'warn' | 'error'>;
}): () => Promise<void> {
  const warn = repeatedLog(
    deps.logger,
    "this flusher's clock is off Redis's: flush retries run early or late (keep the hosts' clocks synced)",
    { everyMs: 10 * 60_000 },
  );
  return async () => {
    const offsetMs = Date.now() - (await redisNow(deps.redis));
    deps.metrics.clockOffset.set(offsetMs / 1000);
    if (Math.abs(offsetMs) > WARN_PAST_MS)
      warn(undefined, { clockOffsetSeconds: Math.round(offsetMs / 1000) });
  };
}
