import type { Logger } from 'pino';

/**
 * A warning that may come thousands of times a second, logged the first time and then once per
 * `everyMs` with how many came meanwhile. BullMQ's worker asks Redis for its next job again at
 * once after an answer that is not a lost connection: with Redis at `maxmemory` it is refused OOM
 * each time, and a review's flusher logged 2,200 `worker error` lines a second (87,380 in 30 s).
 */
export function repeatedWarning(logger: Pick<Logger, 'warn'>, message: string, everyMs = 10_000) {
  let lastLoggedAt = Number.NEGATIVE_INFINITY;
  let since = 0;
  return (error: unknown): void => {
    const now = Date.now();
    if (now - lastLoggedAt < everyMs) {
      since += 1;
      return;
    }
    logger.warn({ err: error, ...(since > 0 ? { repeatedSinceLastLine: since } : {}) }, message);
    lastLoggedAt = now;
    since = 0;
  };
}
