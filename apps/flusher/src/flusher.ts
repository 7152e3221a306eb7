import { hostname } from 'node:os';
import {
  adminKeys,
  type Config,
  closeConnectionsOnClose,
  FLUSH_BACKOFF,
  FLUSH_JOB,
  FLUSH_QUEUE,
  type FlushJobData,
  flushBackoffDelay,
  flusherAliveKey,
  healthRoutes,
  notFoundWithoutSecrets,
  parseFlushJobId,
  QUEUE_CONNECTION_OPTIONS,
  queuePrefix,
  redisClusterDown,
  redisIsReplica,
  redisNotReady,
  refuseAmbiguousRequests,
  repeatedLog,
  repeatedLogPerKey,
  requestLogs,
  SLOW_CLIENT_LIMITS,
  streamForgetAfterMs,
  streamOfUnit,
  sweepLeaseKey,
  watchKeyFile,
} from '@spool/shared';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { FlusherClients } from './clients.js';
import { clockOffsetCheck } from './clock-offset.js';
import { type FlushOutcome, flushGeneration } from './flush-generation.js';
import { createFlusherMetrics } from './metrics.js';
import { redisDownTracker, redisNotAnswering } from './redis-answers.js';
import { redisDataLossCheck } from './redis-data-loss.js';
import { restAfterRefusals } from './rest-after-refusal.js';
import { s3ErrorOf } from './s3-errors.js';
import { adminGuard } from './status/admin-guard.js';
import { recordFlushError, withBoundedMessage } from './status/flush-errors.js';
import { QUEUE_BOARD_PATH, queueBoard } from './status/queue-board.js';
import { warnOfRedisRisks } from './status/redis-health.js';
import { statusReader } from './status/status.js';
import { statusRoutes } from './status/status-routes.js';
import { type SweepResult, sweep, sweepEveryMs } from './sweep.js';
import { startSweepTimer } from './sweep-timer.js';
import { WATCHDOG_TIMING, type WatchdogTiming, watchWorker } from './worker-watchdog.js';

/** The job an earlier version's scheduler fired the sweep with: still run if one is left. */
export const SWEEP_JOB = 'sweep';
const SWEEP_SCHEDULER_ID = 'spool-sweep';
/** Ticks another flusher swept in a row, after which this one stops reporting the sweep's gauges. */
const STALE_AFTER_SKIPPED_TICKS = 3;
/** How often each flusher looks for jobs whose lock expired (one small script on the queue's node). */
const STALLED_CHECK_EVERY_MS = 5_000;
/** How long /readyz waits for Redis's PONG: under a probe's default timeout of 1 s. */
const READY_PING_TIMEOUT_MS = 500;

export interface FlusherDeps {
  config: Readonly<Config>;
  clients: FlusherClients;
  logger: Logger;
  /** When the worker is taken for wedged (tests shorten it). */
  watchdog?: WatchdogTiming;
  /**
   * Told each error of a worker: the errors of BullMQ's blocking connection (a duplicate of the
   * worker's) reach us only this way. main.ts checks them for a refused database.
   */
  onWorkerError?: (error: Error) => void;
}

export interface Flusher {
  /** The BullMQ worker running flush jobs now (a wedged one is replaced: worker-watchdog.ts). */
  readonly worker: Worker<FlushJobData>;
  /** Health and metrics; not listening (main.ts listens). */
  app: FastifyInstance;
  /** The ids of the jobs being run now (a flush job's id names its stream and generation). */
  jobsInHand(): string[];
  close(): Promise<void>;
}

/**
 * The flusher: a BullMQ worker running flush jobs (FLUSH_CONCURRENCY at once), and the sweep,
 * once per tick across all replicas (sweep-timer.ts).
 */
export async function buildFlusher(deps: FlusherDeps): Promise<Flusher> {
  const { config, clients, logger } = deps;
  const metrics = createFlusherMetrics(
    () => clients.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized'),
    // The sweep counts every registered stream at each tick: a label frees once its stream has
    // been forgotten (then idle as long again).
    { streamIdleAfterMs: streamForgetAfterMs(config.flushIntervalMs) },
  );
  metrics.flushInterval.set(config.flushIntervalMs / 1000);
  const flushDeps = { config, redis: clients.redis, s3: clients.s3, logger, metrics };
  const sweepDeps = { config, redis: clients.redis, s3: clients.s3, queue: clients.queue, logger, metrics };
  let closing = false;

  // A line per cause every 10 s (with how many it stood for), not one per failed attempt: in an S3
  // outage every stream's every retry logged its stack (6 MB of log in 4 minutes, a review's run).
  // Each stream's last error is on the status page and in spool_flush_failures_total.
  const flushFailureLogs = repeatedLogPerKey();
  const activity = { active: 0, started: 0 };
  // A job is in hand from its start until BullMQ has recorded it completed or failed (the worker's
  // events): its record is one Redis round trip after the processor returns, and a close that found
  // none in hand there cut it, leaving the job active until its lock expired (a review's run). One
  // BullMQ could not record (its lock lost to another flusher: no event, only an error) is let go
  // once its lock would have expired: it is no longer this flusher's.
  const inHand = new Set<Job<FlushJobData>>();
  const processJob = async (job: Job<FlushJobData>): Promise<FlushOutcome | SweepResult> => {
    activity.active += 1;
    activity.started += 1;
    inHand.add(job);
    try {
      return await runJob(job);
    } catch (error) {
      throw withBoundedMessage(error);
    } finally {
      activity.active -= 1;
      setTimeout(() => inHand.delete(job), config.flushLockDurationMs).unref();
    }
  };
  const recorded = (job: Job<FlushJobData> | undefined) => {
    if (job) inHand.delete(job);
  };

  const runJob = async (job: Job<FlushJobData>): Promise<FlushOutcome | SweepResult> => {
    if (job.name === SWEEP_JOB) return sweep(sweepDeps);
    const target = job.id === undefined ? undefined : parseFlushJobId(job.id);
    if (
      job.name !== FLUSH_JOB ||
      !target ||
      target.stream !== job.data.stream ||
      target.gen !== job.data.gen
    ) {
      throw new UnrecoverableError(`not a flush job Spool knows: ${job.name} ${job.id}`);
    }
    const label = { stream: metrics.streamLabel(streamOfUnit(target.stream)) };
    // Its series from a stream's first attempt, at 0: Prometheus's increase() takes a series'
    // first sample as its start, so a first failure went uncounted, and a first object that landed
    // after an outage did not end SpoolFlushFailing (a review's run).
    metrics.failures.inc(label, 0);
    metrics.objects.inc(label, 0);
    metrics.events.inc(label, 0);
    metrics.rawBytes.inc(label, 0);
    metrics.compressedBytes.inc(label, 0);
    try {
      return await flushGeneration(flushDeps, target.stream, target.gen);
    } catch (thrown) {
      // Bounded before it is recorded, logged or kept in the job (withBoundedMessage).
      const error = withBoundedMessage(thrown);
      metrics.failures.inc(label);
      await recordFlushError(clients.redis, config.namespace, target.stream, error);
      // Its name alone would join causes: Node's and ioredis's errors are all "Error" (a refused
      // connection to S3, a full disk), and a rare one beside a frequent one was never said.
      const { name, code, status } = s3ErrorOf(error);
      const cause = `${name ?? 'Error'}:${code ?? status ?? ''}`;
      flushFailureLogs(cause, () => repeatedLog(logger, 'flush failed; will retry'))(error, {
        stream: target.stream,
        gen: target.gen,
        jobId: job.id,
        attempt: job.attemptsMade + 1,
      });
      throw error;
    }
  };

  const startWorker = () => {
    const connection = clients.connectWorker();
    const worker = new Worker<FlushJobData, FlushOutcome | SweepResult>(FLUSH_QUEUE, processJob, {
      ...QUEUE_CONNECTION_OPTIONS,
      connection,
      prefix: queuePrefix(config.namespace),
      concurrency: config.flushConcurrency,
      // A crashed flusher's job is taken over once its lock is not renewed for this long, and
      // so is a job whose completion was lost in a Redis failover (the job stays active, its
      // stream's next flush waits on it), found by the next stalled check after its lock expired.
      lockDuration: config.flushLockDurationMs,
      stalledInterval: Math.min(config.flushLockDurationMs, STALLED_CHECK_EVERY_MS),
      // A stalled flush is safe to run again (seal and release are idempotent): never give up on it.
      maxStalledCount: Number.MAX_SAFE_INTEGER,
      settings: {
        backoffStrategy: (attemptsMade, type) =>
          type === FLUSH_BACKOFF
            ? flushBackoffDelay(attemptsMade, config.flushRetryBaseMs, config.flushRetryMaxMs)
            : -1,
      },
    });
    worker.on('completed', recorded);
    worker.on('failed', recorded);
    if (deps.onWorkerError) worker.on('error', deps.onWorkerError);
    worker.on('error', repeatedLog(logger, 'worker error'));
    return { worker, connection, rest: restAfterRefusals(worker) };
  };
  let current = startWorker();
  // Not awaited: Redis may be away.
  void warnOfRedisRisks(clients.redis, logger);
  const watchdog = watchWorker({
    timing: deps.watchdog ?? WATCHDOG_TIMING,
    waitingJobs: async () => (await clients.queue.getJobCounts('waiting')).waiting ?? 0,
    activity: () => activity,
    replace: async () => {
      // A check that began before close() must not start a worker that close() would not end.
      if (closing) return;
      const wedged = current;
      // What it holds are completions it never recorded (it is replaced only while no job runs):
      // their locks expire, and a worker takes them again.
      inHand.clear();
      current = startWorker();
      metrics.workerReplacements.inc();
      // Its blocking call may never end: closed without waiting on it (no job of its is in hand).
      wedged.connection.disconnect();
      await wedged.worker.close(true).catch(() => {});
    },
    logger,
  });

  let skippedTicks = 0;
  // Earlier versions fired the sweep from a BullMQ job scheduler, which a failover can stop for good.
  // Not awaited: a flusher started while Redis is away must still answer its probes (/healthz
  // 200, /readyz 503), or its liveness probe restarts it for as long as the outage lasts. The
  // command waits in ioredis's queue until Redis answers.
  clients.queue
    .removeJobScheduler(SWEEP_SCHEDULER_ID)
    .catch((error: unknown) => logger.warn({ err: error }, 'could not remove the old sweep scheduler'));
  // Aborted on close: a sweep in progress begins no further stream (at 100k streams a whole tick
  // outlasted the shutdown's grace).
  const sweepStop = new AbortController();
  const checkClock = clockOffsetCheck({ redis: clients.redis, metrics, logger });
  const checkRedisData = redisDataLossCheck({
    redis: clients.redis,
    namespace: config.namespace,
    metrics,
    logger,
  });
  const sweepTimer = startSweepTimer({
    redis: clients.redis,
    leaseKey: sweepLeaseKey(config.namespace),
    aliveKey: flusherAliveKey(config.namespace),
    holder: `${hostname()}:${process.pid}`,
    everyMs: sweepEveryMs(config.flushIntervalMs),
    sweep: () => sweep(sweepDeps, sweepStop.signal),
    onTick: (outcome) => {
      metrics.sweeps.inc({ outcome });
      // A Redis that does not answer is the tick's to say (lease_failed).
      checkClock().catch(() => {});
      checkRedisData().catch(() => {});
      skippedTicks = outcome === 'skipped' ? skippedTicks + 1 : 0;
      // Another flusher sweeps now: this one's view of the buffers is growing stale, and alerts
      // take the highest of every flusher's.
      if (skippedTicks === STALE_AFTER_SKIPPED_TICKS) metrics.forgetSweeps();
    },
    logger,
  });

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: requestLogs({ quietPrefixes: [`${QUEUE_BOARD_PATH}/api/`] }),
    ...SLOW_CLIENT_LIMITS,
  });
  // Neither a keep-alive connection nor a client stopped halfway through its request holds the close.
  closeConnectionsOnClose(app);
  app.addHook('onRequest', refuseAmbiguousRequests);
  notFoundWithoutSecrets(app);
  await app.register(healthRoutes, {
    notReadyReason: async () => {
      if (closing) return 'shutting down';
      if (!current.worker.isRunning() && !current.rest.resting()) return 'the flush worker is not running';
      return (
        redisNotReady(clients.redis) ??
        (await redisNotAnswering(clients.redis, READY_PING_TIMEOUT_MS)) ??
        (await redisIsReplica(clients.redis, READY_PING_TIMEOUT_MS)) ??
        (await redisClusterDown(clients.redis, READY_PING_TIMEOUT_MS))
      );
    },
    registry: metrics.registry,
    metricsHosts: config.metricsHosts,
  });
  // The admin views answer at once while Redis is down, rather than wait out the client's retries.
  const redisDown = redisDownTracker(clients.redis);
  const guard = adminGuard(config.adminKeys, logger as FastifyBaseLogger);
  // ADMIN_KEYS_FILE, watched: a key is added or revoked without a restart.
  const keyFile = config.settingFiles.ADMIN_KEYS;
  const keyFileWatch =
    keyFile === undefined
      ? undefined
      : watchKeyFile({
          name: 'ADMIN_KEYS',
          file: keyFile,
          field: adminKeys,
          current: config.adminKeys,
          keyTexts: (keys) => keys,
          apply: guard.replace,
          logger,
          readOk: metrics.keyFileReadOk,
        });
  await app.register(statusRoutes, {
    readStatus: statusReader({ redis: clients.redis, queue: clients.queue, config }),
    guard,
    redisDown,
  });
  await app.register(queueBoard, { queue: clients.queue, guard, redisDown });

  return {
    get worker() {
      return current.worker;
    },
    app,
    jobsInHand: () => [...inHand].map((job) => job.id ?? job.name),
    async close() {
      closing = true;
      watchdog.stop();
      sweepStop.abort();
      await sweepTimer.stop();
      // Waits for the jobs in hand; a job still running past the caller's deadline is taken over
      // by another worker once its lock expires. With none in hand, the worker's close would wait
      // only for its blocking read, which with Redis away lasts until Redis is back (a review's
      // run: 25 s, then exit 1): ended as the watchdog ends a wedged one.
      if (inHand.size > 0) {
        logger.info({ jobs: [...inHand].map((job) => job.id ?? job.name) }, 'finishing the jobs in hand');
        await current.worker.close();
      } else {
        current.connection.disconnect();
        await current.worker.close(true).catch(() => {});
      }
      await app.close();
      // Last: until the jobs in hand are done, SIGHUP still reads the file (main.ts keeps it from
      // ending the process after).
      keyFileWatch?.close();
    },
  };
}
