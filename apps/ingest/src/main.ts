import {
  ConfigError,
  createLogger,
  defineSpoolCommands,
  FLUSH_QUEUE,
  type FlushJobData,
  loadConfig,
  QUEUE_PREFIX,
} from '@spool/shared';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { buildApp } from './app.js';

/** How long shutdown may take before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

function readConfig() {
  try {
    return loadConfig(process.env, 'ingest');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`spool-ingest: ${error.message}`);
    process.exit(78); // EX_CONFIG
  }
}

const config = readConfig();
const logger = createLogger('spool-ingest', config.logLevel);

// No offline queue and a command timeout: while Redis is away, requests get 503 at once instead
// of waiting on a queue that may never drain. ioredis reconnects by itself.
const redisOptions = {
  enableOfflineQueue: false,
  commandTimeout: config.redisCommandTimeoutMs,
  maxRetriesPerRequest: 1,
  retryStrategy: (attempt: number) => Math.min(attempt * 100, 1_000),
};
const redis = new Redis(config.redisUrl, redisOptions);
defineSpoolCommands(redis);
const queueConnection = new Redis(config.redisUrl, redisOptions);
const queue = new Queue<FlushJobData>(FLUSH_QUEUE, { connection: queueConnection, prefix: QUEUE_PREFIX });
for (const [name, client] of [
  ['redis', redis],
  ['queue', queueConnection],
] as const) {
  client.on('error', (err) => logger.warn({ err, client: name }, 'redis connection error'));
}

const app = await buildApp({ config, redis, queue, logger });
if (config.writeKeys.length === 0) {
  logger.warn('WRITE_KEYS is not set: this ingest accepts events from anyone, for any stream');
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down: no new requests; finishing the ones in flight');
  setTimeout(() => {
    logger.error('shutdown took too long; exiting');
    process.exit(1);
  }, SHUTDOWN_GRACE_MS).unref();
  await app.close();
  await queue.close();
  await Promise.allSettled([redis.quit(), queueConnection.quit()]);
  logger.info('stopped');
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

await app.listen({ host: config.host, port: config.port });
