import { randomUUID } from 'node:crypto';
import { type RedisClient, redisEpochKey } from '@spool/shared';
import type { Logger } from 'pino';
import type { FlusherMetrics } from './metrics.js';

/**
 * A check, run at each sweep tick on every flusher, that Redis still holds what Spool wrote to it:
 * a random id (`{spool}:redis-epoch`) set once, which only a loss of Redis's data takes away. A
 * Redis restarted empty (no AOF), flushed, or failed over to a replica without the data, lost
 * what was buffered and not yet in S3, and nothing said so: counters and generations started
 * again from 0, and the status page looked healthy (a review's run lost 61 events that way).
 * Now each flusher that saw the id go (or change: another flusher saw it go first) logs it at
 * error and counts it (`spool_redis_data_lost_total`, the SpoolRedisLostData alert). A loss that
 * no flusher outlives (all restarted with Redis) cannot be told from a new Redis.
 */
export function redisDataLossCheck(deps: {
  redis: RedisClient;
  namespace: string;
  metrics: Pick<FlusherMetrics, 'redisDataLost'>;
  logger: Pick<Logger, 'error'>;
}): () => Promise<void> {
  const key = redisEpochKey(deps.namespace);
  let known: string | undefined;
  return async () => {
    let epoch = await deps.redis.get(key);
    if (epoch !== null && epoch === known) return;
    if (epoch === null) {
      await deps.redis.set(key, randomUUID(), 'NX');
      epoch = await deps.redis.get(key);
    }
    if (known !== undefined) {
      deps.metrics.redisDataLost.inc();
      deps.logger.error(
        { key },
        'Redis lost its data (a restart without AOF, a FLUSHALL, or a failover to a replica without it): what was buffered and not in S3 is lost, and counters start again',
      );
    }
    known = epoch ?? undefined;
  };
}
