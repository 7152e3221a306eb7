// First: with a key file, SIGHUP must not end the process from its first moments (sighup-guard.ts).
import './sighup-guard.js';
import {
  createLogger,
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
import { bucketProblem } from './bucket-check.js';
import { createFlusherClients } from './clients.js';
import { buildFlusher } from './flusher.js';
import { containerMemoryLimit, flusherPeakBytes, memoryProblem, writesParquet } from './memory-budget.js';
import { loadDuckdb } from './parquet-duckdb.js';
import { scratchDirProblem, scratchDiskProblem, scratchFreeBytes } from './scratch-dirs.js';

/** How long shutdown waits for the jobs in hand; past it, their locks expire and others take them. */
const SHUTDOWN_GRACE_MS = 25_000;

refuseOldNode('spool-flusher');
const config = loadConfigOrExit('flusher');
const memoryLimit = containerMemoryLimit();
const tooBig = memoryProblem(config, memoryLimit);
if (tooBig) {
  console.error(`spool-flusher: invalid configuration:\n  ${tooBig}`);
  process.exit(78); // EX_CONFIG, as for any other bad setting
}
if (writesParquet(config)) {
  const noScratch = scratchDirProblem();
  if (noScratch) {
    console.error(`spool-flusher: invalid configuration:\n  ${noScratch}`);
    process.exit(78);
  }
  await loadDuckdb().catch((error: unknown) => {
    console.error(
      `spool-flusher: invalid configuration:\n  OUTPUT_FORMAT: parquet needs DuckDB (@duckdb/node-api), which cannot load here: ${(error as Error).message}`,
    );
    process.exit(78);
  });
}
exitIfOnlyChecking('flusher');
const logger = createLogger('spool-flusher', config.logLevel);
warnOfUnknownSettings(logger);
const clients = createFlusherClients(
  config,
  exitOnRefusedDatabase('flusher', redisConnectionWarnings(logger, { tls: usesTls(config.redis) })),
);
refuseClusterNode('flusher', clients.redis);
const flusher = await buildFlusher({
  config,
  clients,
  logger,
  onWorkerError: exitOnRefusedDatabase('flusher'),
});

stopOnSignals(
  logger,
  SHUTDOWN_GRACE_MS,
  async () => {
    await flusher.close();
    await clients.close();
  },
  // Their locks expire and another flusher takes them over (FLUSH_LOCK_DURATION).
  () => ({ abandonedJobs: flusher.jobsInHand() }),
);
await listenOrExit(flusher.app, config, logger);
const diskProblem = writesParquet(config) ? scratchDiskProblem(config, scratchFreeBytes()) : undefined;
if (diskProblem) logger.warn({ problem: diskProblem }, 'the disk may be too small for Parquet flushes');
if (config.adminKeys.length === 0) {
  logger.warn(
    `ADMIN_KEYS is not set (or is empty, as an empty Secret's value leaves it): /status, /status.json and /queues are open to anyone who reaches ${config.host}:${config.port} by an IP address or localhost`,
  );
}
logger.info(
  {
    redis: describeRedisTarget(config.redis),
    bucket: config.s3.bucket,
    prefix: config.s3.prefix,
    encryption: config.s3.encryption?.ServerSideEncryption ?? "the bucket's default",
    concurrency: config.flushConcurrency,
    peakMemoryBytes: flusherPeakBytes(config),
    memoryLimitBytes: memoryLimit ?? null,
  },
  'flusher running',
);
// Not awaited: S3 may be slow to answer, and the flusher runs (and retries its flushes) meanwhile.
void bucketProblem(clients.s3, config.s3.bucket as string).then((problem) => {
  const endpoint = config.s3.endpoint ? new URL(config.s3.endpoint).origin : 'AWS';
  if (problem) logger.warn({ bucket: config.s3.bucket, endpoint }, problem);
});
