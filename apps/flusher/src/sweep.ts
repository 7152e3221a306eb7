import {
  type Config,
  FLUSH_JOB,
  FLUSH_JOB_OPTIONS,
  type FlushJobData,
  flushJobId,
  OTHER_STREAMS_LABEL,
  streamKeys,
  streamsKey,
} from '@spool/shared';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FlusherMetrics } from './metrics.js';

export interface SweepDeps {
  config: Pick<Config, 'flushIntervalMs' | 'flushThresholdBytes' | 'namespace'>;
  redis: Redis;
  queue: Queue<FlushJobData>;
  logger: Logger;
  metrics: FlusherMetrics;
}

export interface SweepResult {
  streams: number;
  enqueued: string[];
  retried: string[];
}

/**
 * Makes sure every generation that should be flushed has a live job; run by a BullMQ job
 * scheduler, so one sweep runs per tick across all flusher replicas. It enqueues:
 * - an active buffer older than FLUSH_INTERVAL (the time-based flush);
 * - an active buffer over the threshold without a job (its crossing's enqueue was lost);
 * - every sealed generation without a live job (its job was lost), and retries one whose job
 *   failed for good.
 * Adding an id that exists is a no-op, so a sweep never doubles a job. Reads are O(1) per stream
 * (STRLEN, GET, SMEMBERS of the few pending generations).
 */
export async function sweep(deps: SweepDeps, now = Date.now()): Promise<SweepResult> {
  const { config, redis, queue, metrics } = deps;
  const result: SweepResult = { streams: 0, enqueued: [], retried: [] };
  let oldestSince = now;

  const ensureJob = async (stream: string, gen: number) => {
    const jobId = flushJobId(stream, gen);
    const job = await queue.getJob(jobId);
    if (!job) {
      await queue.add(FLUSH_JOB, { stream, gen }, { ...FLUSH_JOB_OPTIONS, jobId });
      result.enqueued.push(jobId);
    } else if (await job.isFailed()) {
      await job.retry('failed');
      result.retried.push(jobId);
    }
  };

  let cursor = '0';
  do {
    const [next, streams] = await redis.sscan(streamsKey(config.namespace), cursor, 'COUNT', 500);
    cursor = next;
    for (const stream of streams) {
      result.streams += 1;
      const keys = streamKeys(stream, config.namespace);
      const replies = await redis
        .pipeline()
        .get(keys.gen)
        .get(keys.since)
        .strlen(keys.buf)
        .smembers(keys.pending)
        .exec();
      const [gen, since, length, pending] = (replies ?? []).map(([error, value]) => {
        if (error) throw error;
        return value;
      }) as [string | null, string | null, number, string[]];
      const label = metrics.streamLabel(stream);
      if (label !== OTHER_STREAMS_LABEL) {
        metrics.bufferBytes.set({ stream: label }, length);
        metrics.pendingGenerations.set({ stream: label }, pending.length);
      }

      if (length > 0) {
        // A buffer without `since` (lost, or written by hand) is of unknown age: flush it.
        const startedAt = since === null ? now - config.flushIntervalMs : Number(since);
        oldestSince = Math.min(oldestSince, startedAt);
        if (now - startedAt >= config.flushIntervalMs || length >= config.flushThresholdBytes) {
          await ensureJob(stream, Number(gen ?? 0));
        }
      }
      for (const sealedGen of pending) {
        const sealedSince = await redis.hget(keys.sealedMeta(Number(sealedGen)), 'since');
        if (sealedSince !== null) oldestSince = Math.min(oldestSince, Number(sealedSince));
        await ensureJob(stream, Number(sealedGen));
      }
    }
  } while (cursor !== '0');

  metrics.oldestBufferAge.set((now - oldestSince) / 1000);
  if (result.enqueued.length > 0 || result.retried.length > 0) {
    deps.logger.info({ enqueued: result.enqueued, retried: result.retried }, 'sweep enqueued flushes');
  }
  return result;
}

/** How often the sweep runs: often enough that FLUSH_INTERVAL is kept to within a quarter. */
export function sweepEveryMs(flushIntervalMs: number): number {
  return Math.max(1_000, Math.min(30_000, Math.floor(flushIntervalMs / 4)));
}
