import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisTarget } from './redis-target.js';

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
    return new Redis(
      target.url,
      neverResend ? { ...options, autoResendUnfulfilledCommands: false } : options,
    );
  }
  const { enableOfflineQueue, retryStrategy, ...nodeOptions } = options;
  return new Cluster(
    target.nodes.map((node) => ({ ...node })),
    {
      redisOptions: {
        ...nodeOptions,
        ...(target.username ? { username: target.username } : {}),
        ...(target.password ? { password: target.password } : {}),
        ...(target.tls ? { tls: {} } : {}),
        ...(neverResend ? { autoResendUnfulfilledCommands: false } : {}),
      },
      ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
      ...(retryStrategy ? { clusterRetryStrategy: retryStrategy } : {}),
      ...(neverResend ? { retryDelayOnFailover: 0 } : {}),
    },
  );
}

/** True for a cluster client (whose commands route by key, and whose nodes are many). */
export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}
