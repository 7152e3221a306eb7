import { Cluster } from 'ioredis';
import { leaveReplica, type RedisClient } from './redis-connection.js';
import { within } from './within.js';

/**
 * Why the one Redis server this process writes to cannot take its writes, or undefined when it
 * can, or when it does not say within `ms` (ROLE refused by a managed Redis, or slow: other
 * checks judge a slow Redis). A replica refuses every write READONLY, so every append answers
 * 503 and no flush lands, while the connection is up: `/readyz` said ready, so a REDIS_URL naming
 * a replica passed a rollout. A cluster sends writes to its masters itself.
 *
 * The connection is reconnected too (leaveReplica: at most once a second, as on a READONLY
 * answer), through its address, which after a failover behind a name (a DNS name, a Kubernetes
 * Service) reaches the new primary: a pod left out of traffic makes no writes, so the reconnect
 * that a READONLY answer brings (connectRedis) would never come.
 */
export async function redisIsReplica(redis: RedisClient, ms: number): Promise<string | undefined> {
  if (redis instanceof Cluster) return undefined;
  const role = await within(redis.call('ROLE') as Promise<unknown>, ms);
  if (!Array.isArray(role) || (role[0] !== 'slave' && role[0] !== 'replica')) return undefined;
  leaveReplica(redis);
  return 'Redis is a read-only replica: REDIS_URL must name the primary';
}
