import {
  type Config,
  connectRedis,
  defineSpoolCommands,
  FLUSH_QUEUE,
  type FlushJobData,
  keepErrorsAfterClose,
  onConnectionErrors,
  onNodeErrors,
  QUEUE_CONNECTION_OPTIONS,
  queuePrefix,
  type RedisClient,
} from '@spool/shared';
import { Queue } from 'bullmq';
import type { RedisOptions } from 'ioredis';

export interface IngestClients {
  redis: RedisClient;
  queue: Queue<FlushJobData>;
  close(): Promise<void>;
}

/**
 * The ingest's Redis connections (to one server, or to a cluster): one for appends, one for the
 * flush queue. No offline queue and
 * a command timeout, so while Redis is away a request gets 503 at once instead of waiting on a
 * queue that may never drain; ioredis keeps reconnecting by itself.
 *
 * The append connection never re-sends a command whose reply was lost with its connection
 * (ioredis does by default, see connectRedis's `neverResend`): Redis may have run it already,
 * and a second run would store its events twice under one 202. The request gets 503 instead, within
 * the command timeout, and its client's retry is deduplicated by messageId. (Adding a flush job
 * twice is harmless, so the queue's connection keeps the default.)
 */
export function createIngestClients(
  config: Pick<Config, 'redis' | 'redisCommandTimeoutMs' | 'namespace'>,
  onError: (error: Error, client: string) => void = () => {},
): IngestClients {
  const options: RedisOptions = {
    enableOfflineQueue: false,
    commandTimeout: config.redisCommandTimeoutMs,
    maxRetriesPerRequest: 1,
    // At most a quarter of a second between attempts: every request meanwhile is answered 503,
    // and a beacon (never retried) answered so is lost. With a 1 s cap, a review's beacon sent
    // 100 ms after Redis came back got a 503. An attempt at a server that is away costs little.
    retryStrategy: (attempt) => Math.min(attempt * 100, 250),
  };
  const redis = connectRedis(config.redis, options, { neverResend: true });
  defineSpoolCommands(redis);
  // A command that times out leaves its connection waiting behind it: the append connection is
  // dropped then (dropStalledConnection); the queue's drops itself when Redis stays silent that
  // long. After a failover whose old primary died silently, every flush job's add timed out, for
  // good (a review's run), and size-triggered flushes waited for the sweep.
  const queueConnection = connectRedis(config.redis, {
    ...options,
    socketTimeout: config.redisCommandTimeoutMs,
  });
  const queue = new Queue<FlushJobData>(FLUSH_QUEUE, {
    ...QUEUE_CONNECTION_OPTIONS,
    connection: queueConnection,
    prefix: queuePrefix(config.namespace),
  });
  // Connection errors are expected while Redis is away (requests answer 503); they must not crash.
  onConnectionErrors(redis, 'redis', onError);
  queue.on('error', (error) => onError(error, 'queue'));
  onNodeErrors(queueConnection, 'queue', onError);
  keepErrorsAfterClose(queueConnection);
  return {
    redis,
    queue,
    async close() {
      await queue.close();
      await Promise.allSettled([redis.quit(), queueConnection.quit()]);
      redis.disconnect();
      queueConnection.disconnect();
    },
  };
}
