import { Cluster } from 'ioredis';
import { leaveReplica, nodeAddress, type RedisClient, setFailedMasters } from './redis-connection.js';
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

/**
 * Why a Redis Cluster refuses every command, or undefined. A master that dies leaves the
 * client's pool at once, so every master it knows stays connected (redisNotReady) while, with no
 * replica to take its slots and Redis's default `cluster-require-full-coverage yes`, the cluster
 * answers every command CLUSTERDOWN: pods said ready through the whole outage. Asked (one master,
 * within `ms`) only while some slot has no connected master; the slot map is refreshed then too.
 * With full coverage off, the other slots are served and the pod stays ready, as chosen: the
 * masters the Cluster marked failed are recorded, for redisNotReady not to wait for them.
 */
export async function redisClusterDown(redis: RedisClient, ms: number): Promise<string | undefined> {
  if (!(redis instanceof Cluster)) return undefined;
  const masters = redis.nodes('master');
  const live = new Set(masters.filter((node) => node.status === 'ready').map(nodeAddress));
  if (redis.slots.every((owners) => owners?.[0] !== undefined && live.has(owners[0]))) {
    setFailedMasters(redis, undefined);
    return undefined;
  }
  redis.refreshSlotsCache();
  const asked = masters.find((node) => node.status === 'ready') ?? masters[0];
  const answers =
    asked &&
    (await within(
      Promise.all([asked.call('CLUSTER', 'INFO'), asked.call('CLUSTER', 'NODES')]) as Promise<unknown[]>,
      ms,
    ));
  const [info, nodes] = Array.isArray(answers) ? answers : [];
  if (typeof nodes === 'string') setFailedMasters(redis, failedMasterAddresses(nodes));
  return typeof info === 'string' && info.includes('cluster_state:fail')
    ? 'the Redis Cluster is down (cluster_state:fail): a master is gone, with no replica in its place'
    : undefined;
}

/**
 * The `host:port` of every master `CLUSTER NODES` flags `fail`, or `fail?` (the asked node's own
 * suspicion, before the Cluster agrees): either way not one to wait for, and what the Cluster
 * then serves is judged by `cluster_state`. (`fail?` comes first: counted only from `fail`, the
 * probes between the two said "2 of 3 connected".)
 */
export function failedMasterAddresses(clusterNodes: string): Set<string> {
  const failed = new Set<string>();
  for (const line of clusterNodes.split('\n')) {
    const [, address, flags] = line.split(' ');
    const names = (flags ?? '').split(',');
    if (address && names.includes('master') && (names.includes('fail') || names.includes('fail?'))) {
      failed.add(address.split('@')[0] as string);
    }
  }
  return failed;
}
