import type { S3Client } from '@aws-sdk/client-s3';
import {
  addFlushJob,
  type Config,
  type FlushJobData,
  flushJobId,
  flushJobState,
  forgetStream,
  hurryFlushJob,
  purgeStream,
  type RedisClient,
  type RepeatedLog,
  reconcileSealed,
  redisNow,
  repeatedLog,
  repeatedLogPerKey,
  type StreamKeys,
  streamForgetAfterMs,
  streamKeys,
  streamOfUnit,
  streamRegistryKey,
  unitLimits,
  wentInFront,
} from '@spool/shared';
import type { Job, Queue } from 'bullmq';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { adoptLegacyStreams, forgetLegacyFlushError } from './legacy-streams.js';
import { writePendingManifests } from './manifests.js';
import type { FlusherMetrics } from './metrics.js';
import { drainQuarantine } from './quarantine.js';
import { recoverRegistry } from './registry-recovery.js';
import { s3ErrorOf } from './s3-errors.js';
import { readRedisHealth } from './status/redis-health.js';
import { countersLostFor } from './status/stream-status.js';
import { readUnitState } from './unit-state.js';

/** An hour, in ms: UTC hours begin at its multiples, as an object's `hour=` folder does. */
const HOUR_MS = 3_600_000;
/** The least a retry is overdue on Redis's clock before the sweep runs it (retryMisdated). */
const OVERDUE_RETRY_GRACE_MS = 10_000;

/** Time-aged jobs moved to the front in one tick, at most (see sweep). */
export const HURRIED_AFTER_WAITING_PER_TICK = 1_000;

export interface SweepDeps {
  config: Pick<
    Config,
    | 'flushIntervalMs'
    | 'flushThresholdBytes'
    | 'flushRetryMaxMs'
    | 'maxBufferBytes'
    | 'streamShards'
    | 'namespace'
    | 's3'
    | 'quarantineMaxEvents'
  >;
  redis: RedisClient;
  s3: S3Client;
  queue: Queue<FlushJobData>;
  logger: Logger;
  metrics: FlusherMetrics;
  /** HURRIED_AFTER_WAITING_PER_TICK unless told (tests). */
  hurriedAfterWaitingPerTick?: number;
}

/**
 * Streams visited at once. A visit is a few Redis round trips, and one at a time a tick grew with
 * the streams: 28-35 s at 100k streams in a review's run, past the sweep's interval. Bounded, so
 * that a tick's commands never crowd the appends' in Redis.
 */
export const SWEEP_CONCURRENCY = 32;

/** Job ids a log line lists, of those a tick enqueued or retried (the counts are all of them). */
const LOGGED_JOB_IDS = 20;

export interface SweepResult {
  /** False when the sweep stopped early (the flusher is shutting down). */
  complete: boolean;
  streams: number;
  enqueued: string[];
  retried: string[];
  /** Time-aged jobs moved to the front: their buffers reached the threshold, or were sealed. */
  hurried: string[];
  /** Idle streams taken out of the registry. */
  forgotten: string[];
  /** Streams whose sealed-bytes count did not match their sealed keys, and was set from them. */
  reconciled: string[];
  /** Manifest lines written (of objects whose flush could not write them). */
  manifestLines: number;
  /** Quarantine objects written (rejected events kept by the ingest). */
  quarantined: string[];
  /**
   * Manifest or quarantine writes left for a later tick without a try: the stream waits in its
   * backoff after a failed write, or S3 had refused SIDE_FILE_FAILURES_PER_TICK in a row this tick.
   */
  sideFilesDeferred: number;
  /** Streams that could not be swept this tick (each logged; the others were swept). */
  failed: string[];
}

/**
 * Makes sure every generation that should be flushed has a live job; run on each flusher's own
 * timer by the one that takes the tick's lease (sweep-timer.ts), so one sweep runs per tick across
 * all flusher replicas. Ages are measured on Redis's clock, the one `since` is written on. A
 * stream it cannot read is logged and passed over: the others are swept. It enqueues:
 * - an active buffer older than FLUSH_INTERVAL (the time-based flush), unless its stream has
 *   sealed generations waiting and the buffer's hour has not ended (an S3 outage would pile up a
 *   generation every FLUSH_INTERVAL);
 * - an active buffer over the threshold without a job (its crossing's enqueue was lost);
 * - every sealed generation without a live job (its job was lost), and retries one whose job
 *   failed for good, or whose retry is due past twice FLUSH_RETRY_MAX on Redis's clock.
 * A buffer at its threshold, or a sealed generation, whose job waits as time-aged has it moved to
 * the front (hurryFlushJob), and so does a time-aged job that has waited FLUSH_INTERVAL.
 * Adding an id that exists is a no-op, so a sweep never doubles a job. It also sets a stream's
 * sealed-bytes count from its sealed keys (a key deleted by hand must not hold the stream at its
 * limit), and forgets streams idle past the registry's horizon (stream-registry.ts). Reads are
 * O(1) per stream, plus O(pending generations); SWEEP_CONCURRENCY streams at once. Once `signal`
 * aborts (shutdown), no further stream is begun and the gauges are left as they were.
 */
export async function sweep(deps: SweepDeps, signal?: AbortSignal): Promise<SweepResult> {
  const { config, redis, queue, metrics, logger } = deps;
  const result: SweepResult = {
    complete: true,
    streams: 0,
    enqueued: [],
    retried: [],
    hurried: [],
    forgotten: [],
    reconciled: [],
    manifestLines: 0,
    quarantined: [],
    sideFilesDeferred: 0,
    failed: [],
  };
  const sideFileTries: SideFileTries = { failuresInARow: 0 };
  const now = await redisNow(redis);
  const forgetBefore = now - streamForgetAfterMs(config.flushIntervalMs);
  const registry = streamRegistryKey(config.namespace);
  let oldestSince = now;

  const recovered = await recoverRegistry(redis, config.namespace, now).catch((error: unknown) => {
    logger.warn({ err: error }, 'could not look for streams the registry lacks; the next sweep tries again');
    return undefined;
  });
  if (recovered !== undefined && recovered.length > 0) {
    logger.warn(
      { streams: recovered.length, first: recovered.slice(0, LOGGED_JOB_IDS) },
      'registered streams holding data that the registry lacked (lost in a failover, or deleted): swept again',
    );
  }
  const adoption = await adoptLegacyStreams(redis, config.namespace, now);
  if (adoption.moved > 0)
    logger.info({ streams: adoption.moved }, 'moved streams an older version registered into the registry');
  for (const { key, error } of adoption.unread)
    logger.warn(
      { err: error, key },
      "could not read an older version's registry; its streams wait for the next sweep",
    );
  await forgetLegacyFlushError(redis, config.namespace, forgetBefore).catch((error: unknown) =>
    logger.warn(
      { err: error },
      "could not read an older version's last flush error; the next sweep tries again",
    ),
  );

  // A time-aged flush waits behind the urgent ones, and a hot stream refills past its threshold
  // faster than its flushes run: with as many hot shards as workers, quiet streams' flushes waited
  // for as long as the load lasted (a review's run: 300 streams, FLUSH_INTERVAL 10 s, the first
  // object after 121 s). One that has waited FLUSH_INTERVAL goes to the front once; until then
  // the urgent flushes still go first (design.md has the measured effect on both). Both ends of
  // its wait are on Redis's clock: the sweep dates the jobs it queues by it (queuedAt). On the
  // queuing flusher's own, one a minute behind Redis moved every job at the next tick (a review's
  // run, faketime).
  const waitedAnInterval = (job: Job<FlushJobData>) => now - job.timestamp >= config.flushIntervalMs;
  // At most so many of those a tick (the next tick moves more): each move is BullMQ's LREM from the
  // wait list's head end, where the moved ones gather, so a tick that moved a whole backlog cost
  // Redis O(N²) (a review's 100,000 streams: 78,466 LREMs at 1.5 ms, 120 s of Redis in one tick,
  // flushes at half their rate), for nothing: the workers take a tick's worth at most.
  const hurryLimit = deps.hurriedAfterWaitingPerTick ?? HURRIED_AFTER_WAITING_PER_TICK;
  let hurriedAfterWaiting = 0;

  /** `urgent`: the generation holds room of MAX_BUFFER_BYTES (addFlushJob). */
  const ensureJob = async (stream: string, gen: number, urgent: boolean) => {
    const jobId = flushJobId(stream, gen);
    const job = await queue.getJob(jobId);
    if (!job) {
      await addFlushJob(queue, stream, gen, { urgent, queuedAt: now });
      result.enqueued.push(jobId);
      return;
    }
    // Read once here: only a waiting job may be hurried (which reads it again, just before the
    // move), and a retry backing off, urgent in an S3 outage, was read twice a tick. Not by
    // Job.getState, whose cost grows with the queue (flushJobState).
    const state = await flushJobState(queue, jobId);
    // One of the tick's moves, taken before the move's await (the visits run side by side), by a
    // job not moved yet (hurryFlushJob moves one once).
    const waited =
      state === 'waiting' &&
      !wentInFront(job) &&
      !urgent &&
      waitedAnInterval(job) &&
      hurriedAfterWaiting < hurryLimit;
    if (waited) hurriedAfterWaiting += 1;
    if (state === 'waiting' && (urgent || waited) && (await hurryFlushJob(queue, job))) {
      result.hurried.push(jobId);
    } else if (state === 'failed') {
      await job.retry('failed');
      result.retried.push(jobId);
    } else if (state === 'delayed' && (await retryMisdated(jobId))) {
      // A worker's clock may reach an overdue one meanwhile, and move it first.
      const promoted = await job.promote().then(
        () => true,
        async (error: unknown) => {
          if ((await flushJobState(queue, jobId)) === 'delayed') throw error;
          return false;
        },
      );
      if (promoted) result.retried.push(jobId);
    }
  };
  // BullMQ dates a retry by the failing worker's own clock: a flusher an hour ahead left its
  // retry due an hour past its backoff, and the generation in Redis that long after S3 was back
  // (a review's run, after the clock was put right, or from another flusher). On Redis's clock,
  // one due more than twice FLUSH_RETRY_MAX ahead is run now. Twice: a backoff of the cap from a
  // worker a few ms ahead, or one that failed after this tick read the time, is due just past
  // the cap, and ran at once instead of waiting it (a review's run).
  // And a worker moves a retry once it is due by the worker's own clock: after a flusher's clock
  // stepped back an hour, or with every flusher behind the one that dated it, a retry due on
  // Redis's clock waited as long, S3 back meanwhile (a review's run). One overdue on Redis's
  // clock by more than FLUSH_RETRY_MAX (OVERDUE_RETRY_GRACE_MS at least) is run now. Not less:
  // where Redis's clock is ahead of every flusher's, each retry looks overdue by that much, and
  // with a 10 s grace every retry ran at each tick, its backoff lost (a review's run, Redis a
  // minute ahead).
  const overdueAfterMs = Math.max(OVERDUE_RETRY_GRACE_MS, config.flushRetryMaxMs);
  const retryMisdated = async (jobId: string) => {
    const score = await redis.zscore(queue.toKey('delayed'), jobId);
    if (score === null) return false;
    // A delayed job's score is its due time in ms, times 4096 (BullMQ's getDelayedScore).
    const due = Math.floor(Number(score) / 0x1000);
    return due - now > 2 * config.flushRetryMaxMs || now - due > overdueAfterMs;
  };

  // Per stream label: a sharded stream's gauges sum its shards.
  const gauges = new Map<string, { bytes: number; pending: number; fill: number }>();
  const countersLost = new Map<string, boolean>();
  /** One stream's part of the sweep (see above). */
  const visit = async (stream: string, registeredAt: number) => {
    const keys = streamKeys(stream, config.namespace);
    const { gen, since, length, pending, sealedBytes, manifestPending, quarantinePending, stats } =
      await readUnitState(redis, keys);
    // A drain a crash left unfinished is finished first, whatever is pending.
    const sideFileVisit = { deps, tries: sideFileTries, result, unit: stream, keys, stats, now };
    if (manifestPending > 0) await writeManifests(sideFileVisit);
    else await forgetSideFileBackoff(sideFileVisit, 'manifest');
    if (quarantinePending > 0) await writeQuarantine(sideFileVisit);
    else await forgetSideFileBackoff(sideFileVisit, 'quarantine');
    const label = metrics.streamLabel(streamOfUnit(stream));
    // Every label counts, "other" too: a loss must be seen whatever the stream's name.
    const lost = countersLostFor(stats);
    // Remembered beside them: landed is above accepted only while fewer events are in flight than
    // were lost, so on a busy stream the alert resolved and fired again with each flush.
    if (lost && stats.countersLost === undefined) await redis.hset(keys.stats, 'countersLost', String(now));
    countersLost.set(label, lost || countersLost.get(label) === true);
    // "_other" too, as the shards of one stream: bytes and generations summed, the fill of the
    // fullest (a stream past the labels' cap nearly full must still raise SpoolBufferNearlyFull).
    const gauge = gauges.get(label) ?? { bytes: 0, pending: 0, fill: 0 };
    gauge.bytes += length;
    gauge.pending += pending.length;
    const fill = (length + sealedBytes) / unitLimits(config, stream).maxBufferBytes;
    gauge.fill = Math.max(gauge.fill, fill);
    gauges.set(label, gauge);

    if (pending.length > 0 || sealedBytes !== 0) {
      const reconciliation = await reconcileSealed(redis, keys);
      if (reconciliation.sealedBytes !== reconciliation.counted || reconciliation.forgotten > 0) {
        result.reconciled.push(stream);
        logger.warn(
          { stream, ...reconciliation },
          'sealed-bytes did not match the sealed keys (one was deleted outside Spool?); set from them',
        );
      }
    }
    if (length > 0) {
      // A buffer without `since` (lost, or written by hand) is of unknown age: flush it.
      const startedAt = since ?? now - config.flushIntervalMs;
      oldestSince = Math.min(oldestSince, startedAt);
      // By time once the stream's sealed generations have landed, or once the buffer's hour has
      // ended: while S3 refused them, a generation every FLUSH_INTERVAL (its job, meta hash and
      // retries' log lines) piled up for each stream that took an event, some 8 times the events'
      // bytes in Redis (a review's run). An hour's end still seals it: an object holds the events
      // of its `hour=` folder (and up to FLUSH_INTERVAL past), which readers prune on, and a
      // generation that fails alone holds later events an hour at most.
      const hourEnded = Math.floor(startedAt / HOUR_MS) !== Math.floor(now / HOUR_MS);
      const aged = now - startedAt >= config.flushIntervalMs && (pending.length === 0 || hourEnded);
      const crossed = length >= unitLimits(config, stream).flushThresholdBytes;
      if (aged || crossed) await ensureJob(stream, gen, crossed);
    } else if (
      // Nothing left for the sweep to do for it: no sealed generation, manifest line or quarantine.
      pending.length === 0 &&
      manifestPending === 0 &&
      quarantinePending === 0 &&
      // The registration the scan read: an idle stream registered since the horizon is kept
      // without asking Redis again (the script re-checks the one that may go). A script for every
      // idle stream at every tick doubled an idle sweep's round trips (a review's count).
      registeredAt < forgetBefore &&
      (await forgetStream(redis, registry, stream, forgetBefore))
    ) {
      result.forgotten.push(stream);
      // Then its counters, on its own slot (a Cluster may hold the registry on another), unless
      // an append came between: each stream name ever written kept some 960 bytes for good.
      await purgeStream(redis, keys);
    }
    for (const sealedGen of pending) {
      const sealedSince = await redis.hget(keys.sealedMeta(Number(sealedGen)), 'since');
      if (sealedSince !== null) oldestSince = Math.min(oldestSince, Number(sealedSince));
      await ensureJob(stream, Number(sealedGen), true);
    }
  };

  let failure: unknown;
  const limit = pLimit(SWEEP_CONCURRENCY);
  let cursor = '0';
  do {
    const [next, page] = await redis.zscan(registry, cursor, 'COUNT', 500);
    cursor = next;
    // ZSCAN answers member, score, member, score, ... (a member may come twice: visited once,
    // with its later registration).
    const streams = new Map<string, number>();
    for (let i = 0; i < page.length; i += 2) {
      const stream = page[i] as string;
      streams.set(stream, Math.max(Number(page[i + 1]), streams.get(stream) ?? 0));
    }
    await Promise.all(
      [...streams].map(([stream, registeredAt]) =>
        limit(async () => {
          if (signal?.aborted) return;
          result.streams += 1;
          // One stream that cannot be read (a Cluster master away, a key of the wrong type) must
          // not stop the sweep of the others: each is tried, and the next tick tries again.
          try {
            await visit(stream, registeredAt);
          } catch (error) {
            result.failed.push(stream);
            failure ??= error;
          }
        }),
      ),
    );
  } while (cursor !== '0' && !signal?.aborted);
  if (signal?.aborted) {
    result.complete = false;
    logger.info({ streams: result.streams }, 'sweep stopped early: shutting down');
    return result;
  }
  // A complete sweep says what every stream holds now: a stream it forgot (or that is gone) must
  // not keep its last values (a counters-lost 1 kept SpoolCountersLost firing until a restart).
  // Reset and set with no await between: no scrape sees them empty. After a sweep that failed on
  // some streams, their last values stand.
  if (result.failed.length === 0) metrics.resetSweepGauges();
  for (const [label, { bytes, pending, fill }] of gauges) {
    metrics.bufferBytes.set({ stream: label }, bytes);
    metrics.pendingGenerations.set({ stream: label }, pending);
    metrics.bufferFillRatio.set({ stream: label }, fill);
  }
  for (const [label, lost] of countersLost) metrics.countersLost.set({ stream: label }, lost ? 1 : 0);

  metrics.oldestBufferAge.set((now - oldestSince) / 1000);
  // Redis's settings that lose accepted events, for the SpoolRedisEvicting alert: the status page
  // was the only place that said so. A Redis that will not tell (INFO refused) leaves them as they were.
  const health = await readRedisHealth(redis).catch(() => undefined);
  if (health) {
    metrics.redisAtRisk.set(
      { reason: 'eviction' },
      Number(health.evictionPolicies.some((p) => p !== 'noeviction')),
    );
    metrics.redisAtRisk.set({ reason: 'aof_off' }, Number(!health.aofEnabled));
  }
  if (result.enqueued.length > 0 || result.retried.length > 0 || result.hurried.length > 0) {
    logger.info(
      {
        enqueued: result.enqueued.length,
        retried: result.retried.length,
        hurried: result.hurried.length,
        jobs: [...result.enqueued, ...result.retried, ...result.hurried].slice(0, LOGGED_JOB_IDS),
      },
      'sweep enqueued flushes',
    );
  }
  if (result.forgotten.length > 0) logger.info({ streams: result.forgotten.length }, 'forgot idle streams');
  if (result.failed.length > 0) {
    sweepFailureLogOf(logger)(failure, { streams: result.failed.length, first: result.failed.slice(0, 5) });
  }
  return result;
}

/** Each logger's `could not sweep some streams`: its state outlives a sweep, one per process. */
const sweepFailureLogs = new WeakMap<object, RepeatedLog>();

/**
 * Said once every 10 s with how many came meanwhile, as operations.md says: a flusher whose Redis
 * user may not run scripts logged it, with its stack, at every tick (45 lines a minute, a review's run).
 */
function sweepFailureLogOf(logger: SweepDeps['logger']): RepeatedLog {
  let log = sweepFailureLogs.get(logger);
  if (!log) {
    log = repeatedLog(logger, 'could not sweep some streams; the next tick tries them again');
    sweepFailureLogs.set(logger, log);
  }
  return log;
}

/** Where the side files (manifests, quarantine) go: the flusher's bucket and prefix. */
function sideFiles({ config, redis, s3 }: SweepDeps) {
  return {
    redis,
    s3,
    bucket: config.s3.bucket as string,
    prefix: config.s3.prefix,
    namespace: config.namespace,
  };
}

/** Each logger's repeated side-file warnings: their state outlives a sweep, one per process. */
const sideFileLogsOf = new WeakMap<object, ReturnType<typeof repeatedLogPerKey>>();

/**
 * A manifest or quarantine write that failed, said once every 10 s per message and cause with how
 * many came meanwhile, as flush failures are: each sweep tick tries every stream with lines
 * pending, and in an S3 outage 20 streams' quarantines logged 626 lines in 30 s (a review's run).
 */
function warnSideFileFailure(deps: SweepDeps, message: string, error: unknown, unit: string): void {
  let logs = sideFileLogsOf.get(deps.logger);
  if (!logs) {
    logs = repeatedLogPerKey();
    sideFileLogsOf.set(deps.logger, logs);
  }
  const { name, code, status } = s3ErrorOf(error);
  logs(`${message}:${name ?? 'Error'}:${code ?? status ?? ''}`, () => repeatedLog(deps.logger, message))(
    error,
    {
      stream: unit,
    },
  );
}

/**
 * Manifest and quarantine writes this tick tries, by how they went. With S3 refusing them all,
 * each tick tried every stream with lines pending: 50 streams' manifests were 1,100 refused PUTs a
 * minute (a review's run), against a store that may be throttling. Two bounds:
 * - a stream whose write of a kind failed waits before its next try of that kind, twice as long
 *   after each failure in a row (from the next tick, to SIDE_FILE_BACKOFF_MAX_MS), its count and
 *   due time kept in its stats hash, so whichever flusher sweeps next honours them;
 * - in one tick, after SIDE_FILE_FAILURES_PER_TICK refusals in a row, no further write is begun
 *   (those in flight, SWEEP_CONCURRENCY at most, end as they do); a write that lands resets the
 *   count.
 * The first alone starved streams: the scan visits streams in a fixed order, so streams whose
 * writes always failed (a prefix the credentials may no longer write), as many as the sweep's
 * concurrency and first in that order, tripped it every tick, and no later stream's manifest was
 * ever written (a review's run). With the second, those wait in their backoff, and the others
 * are tried.
 */
interface SideFileTries {
  failuresInARow: number;
}

/** Side-file writes refused in a row after which a tick begins no more. */
export const SIDE_FILE_FAILURES_PER_TICK = 3;

/** The longest a stream whose side-file writes keep failing waits between tries. */
export const SIDE_FILE_BACKOFF_MAX_MS = 5 * 60_000;

/**
 * A unit's backoff of one kind of side file, in its stats hash (a count, and a time on Redis's
 * clock): each kind its own, as each has its own key and may fail alone (a credential that may
 * write the quarantine and not the manifests: with one backoff, the manifests' failures held the
 * quarantine back for good, and it dropped rejected events past its bound; a review's run).
 */
type SideFileKind = 'manifest' | 'quarantine';
const backoffFields = (kind: SideFileKind) => ({ failures: `${kind}Failures`, retryAt: `${kind}RetryAt` });

/** A unit's side files as one visit tries them: the sweep's, its keys, its stats as read, and the tick's time. */
interface SideFileVisit {
  deps: SweepDeps;
  tries: SideFileTries;
  result: SweepResult;
  unit: string;
  keys: StreamKeys;
  stats: Record<string, string>;
  now: number;
}

/**
 * Forgets a kind's backoff once nothing of that kind waits (a flush wrote its lines itself, or a
 * write the sweep made landed): a failure after it waits one tick, as a first failure does, not
 * as the last of an outage's (a review's run waited 62 s after one failure a minute later).
 */
async function forgetSideFileBackoff({ deps, keys, stats }: SideFileVisit, kind: SideFileKind) {
  const fields = backoffFields(kind);
  if (stats[fields.failures] === undefined && stats[fields.retryAt] === undefined) return;
  delete stats[fields.failures];
  delete stats[fields.retryAt];
  await deps.redis.hdel(keys.stats, fields.failures, fields.retryAt);
}

/**
 * When a unit whose side-file writes failed `failures` times in a row tries again: half a tick
 * early, so the first retry is at the next tick whatever its timer's jitter, then after 2, 4, …
 * ticks, to SIDE_FILE_BACKOFF_MAX_MS.
 */
export function sideFileRetryAt(now: number, failures: number, tickMs: number): number {
  const wait = Math.min(SIDE_FILE_BACKOFF_MAX_MS, tickMs * 2 ** Math.min(failures - 1, 20));
  return now + wait - tickMs / 2;
}

/** One kind of side-file write: `write` says whether it wrote to S3 (a quarantine not yet due writes nothing, and proves nothing). */
interface SideFileWrite {
  kind: SideFileKind;
  write: () => Promise<boolean>;
  failureMessage: string;
}

/** Runs one side-file write unless the unit waits in its backoff or the tick has stopped trying; counts how it went. */
async function trySideFile(
  visit: SideFileVisit,
  { kind, write, failureMessage }: SideFileWrite,
): Promise<void> {
  const { deps, tries, result, unit, keys, stats, now } = visit;
  const fields = backoffFields(kind);
  if (Number(stats[fields.retryAt] ?? 0) > now || tries.failuresInARow >= SIDE_FILE_FAILURES_PER_TICK) {
    result.sideFilesDeferred += 1;
    return;
  }
  let wrote: boolean;
  try {
    wrote = await write();
  } catch (error) {
    tries.failuresInARow += 1;
    warnSideFileFailure(deps, failureMessage, error, unit);
    const failures = Number(stats[fields.failures] ?? 0) + 1;
    const retryAt = sideFileRetryAt(now, failures, sweepEveryMs(deps.config.flushIntervalMs));
    // Redis away: the next tick tries at once, as before the backoff.
    await deps.redis.hset(keys.stats, fields.failures, failures, fields.retryAt, retryAt).catch(() => {});
    return;
  }
  if (!wrote) return;
  tries.failuresInARow = 0;
  await forgetSideFileBackoff(visit, kind);
}

/** Writes a unit's pending manifest lines (left by a flush that could not write them). */
async function writeManifests(visit: SideFileVisit): Promise<void> {
  const { deps, result, unit } = visit;
  await trySideFile(visit, {
    kind: 'manifest',
    write: async () => {
      const lines = (await writePendingManifests(sideFiles(deps), unit, streamOfUnit(unit))) ?? 0;
      result.manifestLines += lines;
      return lines > 0;
    },
    failureMessage: 'could not write manifests; the next sweep tries again',
  });
}

/** Writes a unit's kept rejected events to S3 once there are enough, or the oldest is old enough. */
async function writeQuarantine(visit: SideFileVisit): Promise<void> {
  const { deps, result, unit, now } = visit;
  const { quarantineMaxEvents, flushIntervalMs } = deps.config;
  await trySideFile(visit, {
    kind: 'quarantine',
    write: async () => {
      const key = await drainQuarantine(sideFiles(deps), unit, now, {
        fullAt: Math.max(1, Math.floor(quarantineMaxEvents / 2)),
        maxAgeMs: flushIntervalMs,
      });
      if (key) result.quarantined.push(key);
      return key !== undefined;
    },
    failureMessage: 'could not write the quarantine; the next sweep tries again',
  });
}

/** How often the sweep runs: often enough that FLUSH_INTERVAL is kept to within a quarter. */
export function sweepEveryMs(flushIntervalMs: number): number {
  return Math.max(1_000, Math.min(30_000, Math.floor(flushIntervalMs / 4)));
}
