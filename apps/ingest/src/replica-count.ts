import { once } from 'node:events';
import type { RedisClient } from '@spool/shared';
import type { Logger } from 'pino';

/**
 * Says once Redis is ready, when a master has fewer replicas than REDIS_MIN_REPLICAS_ACK asks to
 * confirm each write: every append is then answered 503 ("may be stored") while /readyz says
 * ready, and nothing said why. Not a refusal: replicas may be on their way (a failover, a resync).
 */
export function warnIfTooFewReplicas(redis: RedisClient, wanted: number, logger: Pick<Logger, 'warn'>): void {
  if (wanted === 0) return;
  const check = async () => {
    const masters = 'nodes' in redis ? redis.nodes('master') : [redis];
    const short: string[] = [];
    for (const node of masters) {
      const replicas = Number(/^connected_slaves:(\d+)/m.exec(await node.info('replication'))?.[1] ?? 0);
      if (replicas < wanted) short.push(`${node.options.host}:${node.options.port} has ${replicas}`);
    }
    if (short.length > 0) {
      logger.warn(
        { minReplicasAck: wanted, mastersShort: short },
        `REDIS_MIN_REPLICAS_ACK=${wanted} asks more replicas than Redis has: every append is answered 503 until they are there`,
      );
    }
  };
  (redis.status === 'ready' ? Promise.resolve() : once(redis, 'ready').then(() => {}))
    .then(check)
    // Redis away, or INFO refused (an ACL): the appends' 503s still say it, one by one.
    .catch(() => {});
}
