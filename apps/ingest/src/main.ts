// First: with a key file, SIGHUP must not end the process from its first moments (sighup-guard.ts).
import './sighup-guard.js';
import {
  describeRedisTarget,
  exitIfOnlyChecking,
  exitOnRefusedDatabase,
  listenOrExit,
  loadConfigOrExit,
  redisConnectionWarnings,
  refuseClusterNode,
  refuseOldNode,
  stopOnSignals,
  usesTls,
  warnOfUnknownSettings,
} from '@spool/shared';
import { buildApp, createIngestLogger } from './app.js';
import { createIngestClients } from './clients.js';
import { warnIfTooFewReplicas } from './replica-count.js';
import { warnOfUnsendableKeys } from './write-key-file.js';

/** How long shutdown may take (requests in flight finish their appends) before exiting anyway. */
const SHUTDOWN_GRACE_MS = 10_000;

refuseOldNode('spool-ingest');
const config = loadConfigOrExit('ingest');
exitIfOnlyChecking('ingest');
const logger = createIngestLogger(config);
warnOfUnknownSettings(logger);
const clients = createIngestClients(
  config,
  exitOnRefusedDatabase('ingest', redisConnectionWarnings(logger, { tls: usesTls(config.redis) })),
);
refuseClusterNode('ingest', clients.redis);
warnIfTooFewReplicas(clients.redis, config.minReplicasAck, logger);
const app = await buildApp({ config, redis: clients.redis, queue: clients.queue, logger });
if (config.allowAnonymousWrites) {
  logger.warn('ALLOW_ANONYMOUS_WRITES=true: this ingest accepts events from anyone, for any stream');
}
warnOfUnsendableKeys(logger, config.writeKeys);

stopOnSignals(logger, SHUTDOWN_GRACE_MS, async () => {
  await app.close();
  await clients.close();
});
await listenOrExit(app, config, logger);
logger.info(
  { redis: describeRedisTarget(config.redis), minReplicasAck: config.minReplicasAck },
  'ingest running',
);
