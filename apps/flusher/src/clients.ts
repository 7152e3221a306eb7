import { S3Client } from '@aws-sdk/client-s3';
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
  type S3Encryption,
} from '@spool/shared';
import { Queue } from 'bullmq';

export interface FlusherClients {
  /** Seal, read, release and sweep commands. */
  redis: RedisClient;
  /**
   * A new connection for a BullMQ worker, which blocks on it (`maxRetriesPerRequest: null`): one
   * per worker, so that a worker replaced after a wedge (worker-watchdog.ts) starts afresh.
   */
  connectWorker(): RedisClient;
  queue: Queue<FlushJobData>;
  s3: S3Client;
  close(): Promise<void>;
}

/**
 * The S3 client, with checksums as configured (WHEN_REQUIRED suits every S3-compatible store).
 * The SDK waits for ever by default: a store that accepts a connection and never answers would
 * hold a flush (and its slot of FLUSH_CONCURRENCY) for good. A connection that stays idle for
 * S3_TIMEOUT fails instead, and the SDK's retries, then the flush's, take over. Idle, not total:
 * a large part on a slow link keeps moving, and is not cut.
 */
export function createS3Client(s3: Config['s3']): S3Client {
  const client = new S3Client({
    region: s3.region,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    forcePathStyle: s3.forcePathStyle,
    requestChecksumCalculation: s3.checksums,
    responseChecksumValidation: s3.checksums,
    requestHandler: { connectionTimeout: s3.timeoutMs, socketTimeout: s3.timeoutMs },
  });
  if (s3.encryption) askForEncryption(client, s3.encryption);
  return client;
}

/** The commands that create an object: S3 takes an object's encryption from them alone. */
const CREATING_COMMANDS = new Set(['PutObjectCommand', 'CreateMultipartUploadCommand']);

/**
 * Every object the client creates asks for `encryption` (S3_SERVER_SIDE_ENCRYPTION): events,
 * manifests, quarantined events and replay's copies alike, whichever code writes them. A bucket
 * policy that refuses writes without the header (AWS's usual way to require SSE-KMS) refused the
 * flusher's every upload, and its flushes retried for good.
 */
function askForEncryption(client: S3Client, encryption: S3Encryption): void {
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (CREATING_COMMANDS.has(context.commandName ?? '')) Object.assign(args.input as object, encryption);
      return next(args);
    },
    { step: 'initialize', name: 'spoolServerSideEncryption' },
  );
}

/**
 * How long a flusher connection may wait on Redis with no byte back before it is dropped and
 * opened again (ioredis's socketTimeout, armed only while a reply is awaited). A Redis host that
 * dies without resetting its connections (a crashed machine, a dead node behind a Service) leaves
 * them open and silent, and the kernel gives up on them only after some 15 minutes: the sweep
 * and the probes waited on them, never ready again and landing nothing until a restart, after a
 * failover the ingests had followed in seconds (a review's run).
 */
const REDIS_SILENCE_MS = 5_000;

/** The worker's connection blocks up to BullMQ's 10 s waiting for a job: it may be silent longer. */
const WORKER_REDIS_SILENCE_MS = 15_000;

/**
 * The flusher's Redis connections (to one server, or to a cluster) and its S3 client. Its
 * commands may be re-sent after a lost reply, on a new connection too: sealing and releasing a
 * generation are idempotent.
 */
export function createFlusherClients(
  config: Pick<Config, 'redis' | 's3' | 'namespace'>,
  onError: (error: Error, client: string) => void = () => {},
): FlusherClients {
  const options = { maxRetriesPerRequest: 3, socketTimeout: REDIS_SILENCE_MS };
  const redis = connectRedis(config.redis, options);
  defineSpoolCommands(redis);
  const workerConnections = new Set<RedisClient>();
  const queueConnection = connectRedis(config.redis, options);
  const queue = new Queue<FlushJobData>(FLUSH_QUEUE, {
    ...QUEUE_CONNECTION_OPTIONS,
    connection: queueConnection,
    prefix: queuePrefix(config.namespace),
  });
  const s3 = createS3Client(config.s3);
  onConnectionErrors(redis, 'redis', onError);
  // The queue says its connection's errors (and BullMQ's own); a cluster's nodes', its connection.
  queue.on('error', (error: Error) => onError(error, 'queue'));
  onNodeErrors(queueConnection, 'queue', onError);
  keepErrorsAfterClose(queueConnection);
  return {
    redis,
    connectWorker() {
      const connection = connectRedis(config.redis, {
        maxRetriesPerRequest: null,
        socketTimeout: WORKER_REDIS_SILENCE_MS,
      });
      onConnectionErrors(connection, 'worker', onError);
      // A closed one is forgotten: the clients' close() ends only those still open.
      connection.once('end', () => workerConnections.delete(connection));
      workerConnections.add(connection);
      return connection;
    },
    queue,
    s3,
    async close() {
      const connections = [redis, queueConnection, ...workerConnections];
      // quit() waits for Redis's answer: a connection away from Redis is dropped instead (its
      // quit() never settled, and the process ended without saying "stopped"). One whose Redis
      // is silent (open, never answering) fails its QUIT after REDIS_SILENCE_MS: before, the
      // shutdown's grace ran out waiting, exit 1.
      const open = connections.filter((client) => client.status === 'ready');
      for (const client of connections) if (!open.includes(client)) client.disconnect();
      await queue.close();
      await Promise.allSettled(open.map((client) => client.quit()));
      for (const client of connections) client.disconnect();
      s3.destroy();
    },
  };
}
