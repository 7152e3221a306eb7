import {
  describeRedisTarget,
  entriesBasicCannotCarry,
  entriesUrlsCannotCarry,
  exitOnRefusedDatabase,
  listenOrExit,
  loadConfigOrExit,
  redisConnectionWarnings,
  refuseClusterNode,
  stopOnSignals,
  warnOfUnknownSettings,
} from '@spool/shared';
import { buildApp, createIngestLogger } from './app.js';
import { createIngestClients } from './clients.js';
import { warnIfTooFewReplicas } from './replica-count.js';

/** How long shutdown may take (requests in flight finish their appends) before exiting anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

const config = loadConfigOrExit('ingest');
const logger = createIngestLogger(config);
warnOfUnknownSettings(logger);
const clients = createIngestClients(config, exitOnRefusedDatabase('ingest', redisConnectionWarnings(logger)));
refuseClusterNode('ingest', clients.redis);
warnIfTooFewReplicas(clients.redis, config.minReplicasAck, logger);
const app = await buildApp({ config, redis: clients.redis, queue: clients.queue, logger });
if (config.allowAnonymousWrites) {
  logger.warn('ALLOW_ANONYMOUS_WRITES=true: this ingest accepts events from anyone, for any stream');
}
const basicCannotCarry = entriesBasicCannotCarry(config.writeKeys);
if (basicCannotCarry.length > 0) {
  logger.warn(
    { entries: basicCannotCarry },
    'WRITE_KEYS: a key holding ":" can be sent only as Bearer or X-Write-Key (as Jitsu\'s SDK sends its id:secret keys); HTTP Basic (how Segment\'s and RudderStack\'s SDKs send a write key) ends the user name at the first ":"',
  );
}
const urlsCannotCarry = entriesUrlsCannotCarry(config.writeKeys);
if (urlsCannotCarry.length > 0) {
  logger.warn(
    { entries: urlsCannotCarry },
    'WRITE_KEYS: a key holding ? # % & or \\ cannot be sent by the browser SDKs, which put it in URLs as it is (analytics.js loads no settings, RudderStack beacons are refused); server SDKs are not affected',
  );
}

stopOnSignals(logger, SHUTDOWN_GRACE_MS, async () => {
  await app.close();
  await clients.close();
});
await listenOrExit(app, config, logger);
logger.info(
  { redis: describeRedisTarget(config.redis), minReplicasAck: config.minReplicasAck },
  'ingest running',
);
