import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from './redis-target.js';
import { replyCode } from './reply-code.js';

/** A connection to Spool's Redis: one server, or a cluster that routes each key to its slot's master. */
export type RedisClient = Redis | Cluster;

export interface ConnectOptions {
  /**
   * Never send a command twice. ioredis re-sends a command whose reply a broken connection lost:
   * a server's connection on reconnecting (`autoResendUnfulfilledCommands`), a cluster after
   * `retryDelayOnFailover`. Redis may have run it already, so an append would be stored twice
   * under one acknowledgement. With this, the command fails instead (the request gets 503).
   * Redirections (MOVED, ASK, TRYAGAIN, CLUSTERDOWN) are still followed: Redis ran nothing then.
   */
  neverResend?: boolean;
}

/**
 * Whether a connection of this process has been ready: its address and scheme then work, and a
 * later connection error is Redis or the network, not a TLS mismatch (redisConnectionWarnings).
 */
let reachedRedis = false;
export const hasReachedRedis = (): boolean => reachedRedis;
const noteReached = () => {
  reachedRedis = true;
};

/**
 * Connects to the configured Redis. `options` are those of one connection; in a cluster they
 * apply to every node's connection, with the target's credentials and TLS, and the cluster
 * takes `enableOfflineQueue` and `retryStrategy` for itself (while it has no usable node).
 */
export function connectRedis(
  target: RedisTarget,
  options: RedisOptions = {},
  { neverResend = false }: ConnectOptions = {},
): RedisClient {
  if (target.kind === 'standalone') {
    const redis: Redis = new Redis(target.url, {
      // After a failover behind an address that now names the new primary (a DNS name, a
      // Kubernetes Service, a cloud's primary endpoint), a connection opened before it still
      // reaches the old primary, now a replica, which refuses every write with READONLY for as
      // long as the connection lasts: every request answered 503 and no flush landing until a
      // restart (a review's run, 80 s and counting). Such an answer makes the connection reconnect,
      // through the address, to the new primary. The refused command fails with READONLY, never
      // re-sent: its request gets 503 (its client retries), the flusher's job or sweep retries,
      // and an address that names a replica keeps failing, READONLY in the logs, where re-sending
      // hung each command for ever. (A cluster follows its failovers by MOVED.) The queue's and the
      // worker's connections write only in scripts, whose READONLY Redis 6.2 wraps (replyCode).
      reconnectOnError: (error) =>
        replyCode(error.message) === 'READONLY' && mayLeaveReplica(redis) ? 1 : false,
      ...options,
      ...(neverResend ? { autoResendUnfulfilledCommands: false } : {}),
    });
    redis.once('ready', noteReached);
    return redis;
  }
  const { enableOfflineQueue, retryStrategy, ...nodeOptions } = options;
  const cluster = new Cluster(
    target.nodes.map((node) => ({ ...node })),
    {
      redisOptions: {
        ...nodeOptions,
        ...(target.username ? { username: target.username } : {}),
        ...(target.password ? { password: target.password } : {}),
        // `options.tls` may add to TLS (a CA, say); the target says whether it is on.
        ...(target.tls ? { tls: nodeOptions.tls ?? {} } : {}),
        ...(neverResend ? { autoResendUnfulfilledCommands: false } : {}),
      },
      ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
      ...(retryStrategy ? { clusterRetryStrategy: retryStrategy } : {}),
      ...(neverResend ? { retryDelayOnFailover: 0 } : {}),
    },
  );
  cluster.on('ready', () => connectIdleMasters(cluster));
  cluster.once('ready', noteReached);
  return cluster;
}

/**
 * Sends a client's connection errors to `onError` under `name`; a cluster's, each node's too
 * (`node error`, named with the node's address): a cluster client emits no `error` when one of its
 * masters goes away, and a review's 12 s without a master left no `redis connection error` line.
 */
export function onConnectionErrors(
  client: RedisClient,
  name: string,
  onError: (error: Error, name: string) => void,
): void {
  client.on('error', (error: Error) => onError(error, name));
  onNodeErrors(client, name, onError);
}

/** A cluster's nodes' connection errors, each named `<name> <address>` (see onConnectionErrors); none for one server. */
export function onNodeErrors(
  client: RedisClient,
  name: string,
  onError: (error: Error, name: string) => void,
): void {
  if (client instanceof Cluster) {
    client.on('node error', (error: Error, address: string) => onError(error, `${name} ${address}`));
  }
}

/**
 * A listener for a queue's connection's errors that outlives the queue: BullMQ's own (which
 * reports them through the queue's `error`) goes with `queue.close()`, and an error after it (a
 * connection dropped mid-handshake as the process stops) had none: ioredis printed "Unhandled
 * error event" with its stack after the process's last log line.
 */
export function keepErrorsAfterClose(connection: RedisClient): void {
  connection.on('error', () => {});
}

/**
 * How often one connection reconnects to leave a replica, at most, whoever asks (a READONLY
 * answer, a readiness probe): a REDIS_URL naming a replica must not churn connections.
 */
const REPLICA_RECONNECT_EVERY_MS = 1_000;
const leftReplicaAt = new WeakMap<Redis, number>();

/** Whether `redis` may reconnect now to leave a replica, counted when it may (REPLICA_RECONNECT_EVERY_MS). */
function mayLeaveReplica(redis: Redis): boolean {
  const now = performance.now();
  if (now - (leftReplicaAt.get(redis) ?? Number.NEGATIVE_INFINITY) < REPLICA_RECONNECT_EVERY_MS) return false;
  leftReplicaAt.set(redis, now);
  return true;
}

/** Reconnects a connection found on a replica, through its address, unless it did within the second (mayLeaveReplica). */
export function leaveReplica(redis: Redis): void {
  if (mayLeaveReplica(redis)) redis.disconnect(true);
}

/**
 * ioredis connects to a cluster node on its first command, and without an offline queue the
 * commands that arrive while it connects fail. This connects every master not yet connected (a
 * PING through the node's own connection, which queues it until connected).
 */
function connectIdleMasters(cluster: Cluster): void {
  for (const node of cluster.nodes('master')) {
    if (node.status === 'wait') node.ping().catch(() => {});
  }
}

/** The Redis Cluster slot (0 to 16383) of a key, hash tags included. */
export function keySlot(key: string): number {
  return calculateSlot(key);
}

/** The client's connection to the cluster node at `address` (`host:port`, as MOVED and ASK name it). */
export function clusterNodeAt(cluster: Cluster, address: string | undefined): Redis | undefined {
  return cluster.nodes('all').find((node) => `${node.options.host}:${node.options.port}` === address);
}

/** The connection to the master that serves `key`'s slot in the client's slot map, if it has one. */
export function masterOfKey(cluster: Cluster, key: string): Redis | undefined {
  return clusterNodeAt(cluster, cluster.slots[keySlot(key)]?.[0]);
}

/** ioredis's connection states, in words (`connect`: connected, its handshake not done). */
const STATES: Record<string, string> = {
  wait: 'not connected yet',
  connecting: 'connecting',
  connect: 'connecting',
  reconnecting: 'reconnecting',
  close: 'closed',
  end: 'closed',
};
const stateOf = (status: string) => STATES[status] ?? status;

/**
 * Why Redis is not ready for traffic, or undefined when it is: connected, and for a cluster,
 * connected to every master. A master the client has not used yet (one that a failover or
 * reshard brought in) is connected, for the next check. The reason names no address: `/readyz`
 * answers anyone.
 */
export function redisNotReady(redis: RedisClient): string | undefined {
  if (!(redis instanceof Cluster)) {
    if (redis.status !== 'ready') return `the Redis connection is ${stateOf(redis.status)}`;
    // Ended, its status not yet changed (that waits for the socket's close): after READONLY, say
    // (leaveReplica). A command now fails "Stream isn't writeable".
    return redis.stream?.writable ? undefined : 'the Redis connection is closing';
  }
  if (redis.status !== 'ready') return `the Redis Cluster client is ${stateOf(redis.status)}`;
  const masters = mastersToJudge(redis);
  const connected = masters.filter((node) => node.status === 'ready').length;
  if (connected === masters.length) return undefined;
  connectIdleMasters(redis);
  return `${connected} of ${masters.length} Redis Cluster masters connected`;
}

/**
 * The masters a readiness probe waits for: those the client knows, less any the Cluster itself
 * marked failed (redisClusterDown judges whether the Cluster still serves without it, with full
 * coverage off). Each refresh of the slot map adds such a master again, unconnected, until its
 * connection fails: counted, `/readyz` alternated between ready and not on every probe.
 */
export function mastersToJudge(cluster: Cluster): Redis[] {
  const failed = failedMasters.get(cluster);
  const masters = cluster.nodes('master');
  return failed ? masters.filter((node) => !failed.has(nodeAddress(node))) : masters;
}

/** Per cluster client, the masters its Cluster marked failed (`CLUSTER NODES`), as of the last readiness probe that asked. */
const failedMasters = new WeakMap<Cluster, ReadonlySet<string>>();

/** A cluster node's `host:port`, as the client knows it (and as `CLUSTER NODES` and MOVED name it). */
export const nodeAddress = (node: Redis) => `${node.options.host}:${node.options.port}`;

/** Records what the Cluster says of its masters (redisClusterDown); undefined forgets it. */
export function setFailedMasters(cluster: Cluster, addresses: ReadonlySet<string> | undefined): void {
  if (addresses) failedMasters.set(cluster, addresses);
  else failedMasters.delete(cluster);
}

/** A pipeline's replies in order, the first failed command's error thrown (ioredis answers [error, value] pairs). */
export function pipelineValues(replies: Array<[Error | null, unknown]> | null): unknown[] {
  return (replies ?? []).map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

/**
 * The database of a refused SELECT, or undefined: ioredis names the command of a reply error, and
 * a connection's refused SELECT (REDIS_URL's `/99`) is emitted as its `error`.
 */
export function refusedDatabase(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== 'ReplyError') return undefined;
  const command = (error as Error & { command?: { name?: string; args?: unknown[] } }).command;
  return command?.name === 'select' ? String(command.args?.[0]) : undefined;
}
