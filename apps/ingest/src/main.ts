import { ConfigError, createLogger, loadConfig } from '@spool/shared';
import { buildApp } from './app.js';
import { createIngestClients } from './clients.js';

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
const clients = createIngestClients(config, (err, client) =>
  logger.warn({ err, client }, 'redis connection error'),
);

const app = await buildApp({ config, redis: clients.redis, queue: clients.queue, logger });
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
  await clients.close();
  logger.info('stopped');
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

await app.listen({ host: config.host, port: config.port });
