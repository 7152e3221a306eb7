import { type RedisClient, redisEpochKey } from '@spool/shared';
import type { Logger } from 'pino';
import type { FlusherMetrics } from './metrics.js';

/**
 * A check, run at each sweep tick on every flusher, that Redis still holds what Spool wrote to it:
 * each flusher counts up a number in Redis (`{spool}:redis-epoch`, INCR) and remembers what it
 * got. Redis's data only moves forward, so a number no higher than the last one seen says Redis
 * went back in time: restarted empty (no AOF), from an older RDB snapshot, flushed, or failed
 * over to a replica that lacked recent writes. What was buffered and not yet in S3 was lost with
 * it, and nothing said so: counters and generations started again, and the status page looked
 * healthy (a review's run lost 61 events that way). A random id set once missed a restart from
 * a snapshot, which held the id (the own-fix review). Each flusher that sees it logs it at error
 * and counts it (`spool_redis_data_lost_total`, the SpoolRedisLostData alert). A loss that no
 * flusher outlives (all restarted with Redis) cannot be told from a new Redis.
 */
export function redisDataLossCheck(deps: {
  redis: RedisClient;
  namespace: string;
  metrics: Pick<FlusherMetrics, 'redisDataLost'>;
  logger: Pick<Logger, 'error'>;
}): () => Promise<void> {
  const key = redisEpochKey(deps.namespace);
  let last: number | undefined;
  return async () => {
    const now = await deps.redis.incr(key);
    if (last !== undefined && now <= last) {
      deps.metrics.redisDataLost.inc();
      deps.logger.error(
        { key, counted: now, before: last },
        'Redis lost its data (a restart without AOF or from an older snapshot, a FLUSHALL, or a failover to a replica without the latest writes): what was buffered and not in S3 is lost, and counters start again',
      );
    }
    last = now;
  };
}
