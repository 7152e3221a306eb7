import type { Logger } from 'pino';

/**
 * A warning that may come thousands of times a second, logged the first time and then once per
 * `everyMs` with how many came meanwhile. BullMQ's worker asks Redis for its next job again at
 * once after an answer that is not a lost connection: with Redis at `maxmemory` it is refused OOM
 * each time, and a review's flusher logged 2,200 `worker error` lines a second (87,380 in 30 s).
 */
export function repeatedWarning(
  logger: Pick<Logger, 'warn'>,
  message: string,
  { everyMs = 10_000, fields = {} }: { everyMs?: number; fields?: Record<string, unknown> } = {},
) {
  let lastLoggedAt = Number.NEGATIVE_INFINITY;
  let since = 0;
  return (error: unknown): void => {
    const now = Date.now();
    if (now - lastLoggedAt < everyMs) {
      since += 1;
      return;
    }
    logger.warn({ ...fields, err: error, ...(since > 0 ? { repeatedSinceLastLine: since } : {}) }, message);
    lastLoggedAt = now;
    since = 0;
  };
}

/**
 * `redis connection error`, said as a repeatedWarning of each client: while Redis is away, every
 * reconnect attempt of every client is an error, with its stack: a Cluster client tries about
 * 10 times a second for minutes (ioredis's clusterRetryStrategy), the ingest's once a second.
 */
export function redisConnectionWarnings(logger: Pick<Logger, 'warn'>) {
  const byClient = new Map<string, (error: unknown) => void>();
  return (error: Error, client: string): void => {
    let warn = byClient.get(client);
    if (!warn) {
      warn = repeatedWarning(logger, 'redis connection error', { fields: { client } });
      byClient.set(client, warn);
    }
    warn(error);
  };
}
