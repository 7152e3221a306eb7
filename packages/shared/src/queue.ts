import type { Job, JobsOptions, Queue } from 'bullmq';
import type { RedisClient } from './redis-connection.js';
import { parseShardUnit } from './stream-shards.js';

/** The BullMQ queue flush jobs go through (its prefix comes from keys.ts: `queuePrefix`). */
export const FLUSH_QUEUE = 'flush';
export const FLUSH_JOB = 'flush';

/**
 * Options every Queue and Worker of Spool's takes. BullMQ checks the Redis version with `INFO`
 * when it connects, and an ACL user without `@dangerous` may not run it: every call of that
 * queue then failed for good, so no flush job was added or taken, and the processes said they
 * were ready (a review's run). Spool checks what it needs of Redis itself (redis-health.ts), and
 * runs on Redis 6.2 or later. Unchecked, BullMQ takes the server for its minimum (5.0): a worker
 * waiting for a delayed job (a retry's backoff) blocks for whole seconds, so takes it at most a
 * second late.
 */
export const QUEUE_CONNECTION_OPTIONS = Object.freeze({ skipVersionCheck: true });

/** The backoff strategy the flusher registers: exponential, capped (see flushBackoffDelay). */
export const FLUSH_BACKOFF = 'spool-capped-exponential';

export interface FlushJobData {
  /** The buffer unit: a stream, or one shard of a sharded stream (`web#2`, see stream-shards.ts). */
  stream: string;
  gen: number;
  /** Set when a time-aged job was moved to the front (hurryFlushJob), so it is moved once. */
  hurried?: true;
}

/**
 * The deterministic job id of a generation's flush: adding it twice is a no-op, so the crossing
 * append, the sweep and a retry after a crash can never double a job. (BullMQ refuses `:` in
 * custom ids, hence `@`.)
 */
export function flushJobId(stream: string, gen: number): string {
  return `${stream}@${gen}`;
}

export function parseFlushJobId(id: string): FlushJobData | undefined {
  const at = id.lastIndexOf('@');
  const stream = id.slice(0, at);
  const gen = id.slice(at + 1);
  if (at === -1 || !parseShardUnit(stream) || !/^\d+$/.test(gen)) return undefined;
  return { stream, gen: Number(gen) };
}

/**
 * Flush jobs never give up for good: a generation that keeps failing stays sealed and is retried
 * with a capped exponential backoff until S3 takes it.
 */
export const FLUSH_JOB_OPTIONS: Readonly<JobsOptions> = Object.freeze({
  attempts: Number.MAX_SAFE_INTEGER,
  backoff: { type: FLUSH_BACKOFF },
  // Completed ids are removed at once so the same id can be added again later (the sweep may
  // need to); failed ones (only UnrecoverableError fails a flush for good) stay for inspection.
  removeOnComplete: true,
  removeOnFail: { count: 1000 },
  // BullMQ keeps every failed attempt's stack trace on the job, without limit unless told: a flush
  // that retries through a long S3 outage would fill the Redis the buffers need.
  stackTraceLimit: 5,
});

/** Delay before retry number `attemptsMade` (1-based): base, 2 × base, 4 × base, … capped. */
export function flushBackoffDelay(attemptsMade: number, baseMs = 1_000, capMs = 5 * 60_000): number {
  const exponent = Math.min(Math.max(attemptsMade - 1, 0), 30);
  return Math.min(baseMs * 2 ** exponent, capMs);
}

/**
 * Adds generation `gen`'s flush job, the one way every caller does it (the crossing append, the
 * sweep, tools): under its deterministic id, so adding it again while it exists is a no-op.
 *
 * An `urgent` one (a buffer at FLUSH_THRESHOLD_BYTES, or a sealed generation: both hold room of
 * MAX_BUFFER_BYTES) goes to the front of the queue (BullMQ's `lifo`), before the time-aged
 * flushes of quiet streams. In one line, a sweep that found thousands of streams aged put a
 * crossing stream's flush behind them all, and its writes were refused 503 SPOOL_BUFFER_FULL
 * for as long (a review's run: 666 of 678 requests in 40 s, behind 3,000 one-event streams).
 * The same holds when the sweep had already queued the generation as time-aged: see
 * hurryFlushJob.
 */
export async function addFlushJob(
  queue: Queue<FlushJobData>,
  stream: string,
  gen: number,
  { urgent = false, queuedAt }: { urgent?: boolean; queuedAt?: number } = {},
): Promise<Job<FlushJobData>> {
  const jobId = flushJobId(stream, gen);
  const job = await queue.add(
    FLUSH_JOB,
    { stream, gen },
    {
      ...FLUSH_JOB_OPTIONS,
      jobId,
      ...(urgent ? { lifo: true } : {}),
      // The sweep dates its jobs on Redis's clock, against which it measures their wait.
      ...(queuedAt === undefined ? {} : { timestamp: queuedAt }),
    },
  );
  if (urgent) await hurryFlushJob(queue, await queue.getJob(jobId));
  return job;
}

/**
 * Moves a flush job that waits as time-aged to the front of the queue, and says whether it did.
 * Adding an urgent job under an id that exists is a no-op, so a generation the sweep had queued
 * as time-aged (its buffer was old) and whose buffer then crossed FLUSH_THRESHOLD_BYTES, or was
 * sealed, stayed where it was: behind every quiet stream's flush queued before it, its writes
 * refused 503 SPOOL_BUFFER_FULL meanwhile. A job that is not waiting (running, backing off,
 * failed) or already went in at the front is left as it is. BullMQ keeps no record of the move
 * (a job's options are written once), so the job's data does: moved again on each sweep, it would
 * go before every urgent job queued since. A job that a worker finished (and removed) meanwhile is
 * not moved, and that is no error: the crossing's add counted one, and the sweep failed the
 * stream's visit (a review's run, the timing forced).
 */
export async function hurryFlushJob(
  queue: Queue<FlushJobData>,
  job: Job<FlushJobData> | undefined,
): Promise<boolean> {
  if (!job?.id || wentInFront(job) || (await flushJobState(queue, job.id)) !== 'waiting') {
    return false;
  }
  try {
    await job.updateData({ ...job.data, hurried: true });
    await job.changePriority({ lifo: true });
    return true;
  } catch (error) {
    if (job.id !== undefined && (await queue.getJob(job.id)) === undefined) return false;
    throw error;
  }
}

/** Whether a flush job went in at the front (urgent) or was moved there once: hurryFlushJob moves it no more. */
export function wentInFront(job: Job<FlushJobData>): boolean {
  return Boolean(job.opts.lifo || job.data.hurried);
}

/** A flush job's state, as BullMQ's `Job.getState` names them (those a flush job can be in). */
export type FlushJobState =
  | 'completed'
  | 'failed'
  | 'delayed'
  | 'prioritized'
  | 'active'
  | 'waiting'
  | 'unknown';

/**
 * A flush job's state, as `Job.getState` says it, at a cost that does not grow with the queue.
 * BullMQ's reads the whole wait list for a job that waits (LPOS in a script, or LRANGE on a
 * Redis before 6.0.6): O(waiting jobs) a call, and the sweep asks it of every stream with a job.
 * With a flush backlog (S3 slow, or 100,000 one-event streams aged at once) each tick cost Redis
 * O(N²): 100,000 waiting jobs held Redis for seconds a call batch, the ingest's appends timed out
 * 503, and the backlog drained 5 × slower at 20,000 (a review's run). Here every set is asked by
 * ZSCORE and the active list (at most the flush workers' concurrency) by LPOS; a job whose hash
 * exists in none of them waits (in the wait list, or the paused one while the queue is paused,
 * by hand: the Bull Board here cannot; BullMQ says `waiting` of both). One MULTI, so no move between lists falls between the
 * reads (BullMQ's moves are scripts); on a Cluster the keys share the queue's slot.
 */
export async function flushJobState(queue: Queue<FlushJobData>, jobId: string): Promise<FlushJobState> {
  // The ioredis client it was given (BullMQ's own type for it names only what BullMQ calls).
  const client = (await queue.getBackend().client) as unknown as RedisClient;
  const sets = ['completed', 'failed', 'delayed', 'prioritized'] as const;
  const transaction = client.multi();
  for (const set of sets) transaction.zscore(queue.toKey(set), jobId);
  transaction.lpos(queue.toKey('active'), jobId);
  transaction.exists(queue.toKey(jobId));
  const replies = await transaction.exec();
  if (!replies)
    throw new Error(`the state of flush job ${jobId} could not be read (its transaction was discarded)`);
  for (const [error] of replies) if (error) throw error;
  const found = sets.find((_, index) => replies[index]?.[1] !== null);
  if (found) return found;
  if (replies[sets.length]?.[1] !== null) return 'active';
  return replies[sets.length + 1]?.[1] === 1 ? 'waiting' : 'unknown';
}
