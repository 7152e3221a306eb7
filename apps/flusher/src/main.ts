import { ConfigError, createLogger, loadConfig } from '@spool/shared';
import { createFlusherClients } from './clients.js';
import { buildFlusher } from './flusher.js';

/** How long shutdown waits for the jobs in hand; past it, their locks expire and others take them. */
const SHUTDOWN_GRACE_MS = 25_000;

function readConfig() {
  try {
    return loadConfig(process.env, 'flusher');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`spool-flusher: ${error.message}`);
    process.exit(78); // EX_CONFIG
  }
}

const config = readConfig();
const logger = createLogger('spool-flusher', config.logLevel);
const clients = createFlusherClients(config, (err, client) =>
  logger.warn({ err, client }, 'redis connection error'),
);
const flusher = await buildFlusher({ config, clients, logger });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down: taking no new jobs; finishing the ones in hand');
  setTimeout(() => {
    logger.error('shutdown took too long; exiting (unfinished jobs are retried by another flusher)');
    process.exit(1);
  }, SHUTDOWN_GRACE_MS).unref();
  await flusher.close();
  await clients.close();
  logger.info('stopped');
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

await flusher.app.listen({ host: config.host, port: config.port });
logger.info(
  { bucket: config.s3.bucket, prefix: config.s3.prefix, concurrency: config.flushConcurrency },
  'flusher running',
);
