import type { Config, FlushJobData, RedisClient } from '@spool/shared';
import type { Queue } from 'bullmq';
import { type FlushErrorRecord, readLastFlushError } from './flush-errors.js';
import { type RedisHealth, readRedisHealth } from './redis-health.js';
import { readStreamStatuses, type StreamStatus } from './stream-status.js';

export interface StreamRow extends StreamStatus {
  /** Since the previous sample (about a second apart); null on the first. */
  eventsPerSecond: number | null;
  bytesPerSecond: number | null;
}

/** What `/status.json` answers (docs/operations.md describes each field). */
export interface Status {
  generatedAt: string;
  settings: { flushThresholdBytes: number; maxBufferBytes: number; flushIntervalMs: number };
  totals: {
    streams: number;
    stuck: number;
    /** Streams whose counters were lost (StreamStatus.countersLost). */
    countersLost: number;
    bufferBytes: number;
    sealedGenerations: number;
    sealedBytes: number;
    accepted: number;
    landed: number;
    duplicates: number;
    rejected: number;
    quarantineDropped: number;
    /** Accepted and not yet landed. */
    inFlight: number;
    eventsPerSecond: number | null;
    bytesPerSecond: number | null;
  };
  /** `limit` of the `totals.streams` units: the stuck first, then those holding the most data, then the oldest. */
  streams: StreamRow[];
  limit: number;
  queue: {
    waiting: number;
    active: number;
    delayed: number;
    failed: number;
    prioritized: number;
    oldestWaitingAgeMs: number | null;
  };
  /** `landedSince`: its stream has landed an object since (the error is history, not a problem). */
  lastFlushError: (FlushErrorRecord & { landedSince: boolean }) | null;
  redis: RedisHealth;
}

export const DEFAULT_STREAM_LIMIT = 50;
export const MAX_STREAM_LIMIT = 1_000;
/** Samples closer than this reuse the last answer: many open pages cost Redis one reading. */
const SAMPLE_EVERY_MS = 1_000;

interface Sample {
  /** Redis's clock (for rates), and this process's (for reuse). */
  at: number;
  sampledAt: number;
  status: Omit<Status, 'streams' | 'limit'> & { streams: StreamRow[] };
}

/** The order streams are shown in: stuck first, then the most data in Redis, the oldest, by name. */
function byAttention(a: StreamRow, b: StreamRow): number {
  return (
    Number(b.stuck) - Number(a.stuck) ||
    b.bufferBytes + b.sealedBytes - (a.bufferBytes + a.sealedBytes) ||
    (b.ageMs ?? -1) - (a.ageMs ?? -1) ||
    (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0)
  );
}

/**
 * Builds the status, O(streams) in Redis commands and never O(buffer size), at most once a
 * second whatever the number of viewers; rates come from the difference with the previous sample.
 */
export function statusReader(deps: {
  redis: RedisClient;
  queue: Queue<FlushJobData>;
  config: Pick<
    Config,
    'namespace' | 'flushIntervalMs' | 'flushThresholdBytes' | 'maxBufferBytes' | 'streamShards'
  >;
}) {
  const { redis, queue, config } = deps;
  let last: Sample | undefined;
  let sampling: Promise<Sample> | undefined;

  const sample = async (): Promise<Sample> => {
    const [{ now, streams }, counts, oldestWaiting, lastFlushError, redisHealth] = await Promise.all([
      readStreamStatuses(redis, config),
      queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized'),
      queue.getJobs(['waiting'], 0, 0, true),
      readLastFlushError(redis, config.namespace),
      readRedisHealth(redis),
    ]);
    const previous = last;
    const seconds = previous ? (now - previous.at) / 1000 : 0;
    const before = new Map(previous?.status.streams.map((row) => [row.stream, row]));
    const rate = (current: number, earlier: number | undefined) =>
      earlier === undefined || seconds <= 0 ? null : Math.max(0, (current - earlier) / seconds);
    const rows = streams
      .map((row) => ({
        ...row,
        eventsPerSecond: rate(row.accepted, before.get(row.stream)?.accepted),
        bytesPerSecond: rate(row.acceptedBytes, before.get(row.stream)?.acceptedBytes),
      }))
      .sort(byAttention);
    const sum = (pick: (row: StreamRow) => number) => rows.reduce((total, row) => total + pick(row), 0);
    const sumRates = (pick: (row: StreamRow) => number | null) =>
      previous ? rows.reduce((total, row) => total + (pick(row) ?? 0), 0) : null;
    const oldestJob = oldestWaiting[0];
    return {
      at: now,
      sampledAt: Date.now(),
      status: {
        generatedAt: new Date(now).toISOString(),
        settings: {
          flushThresholdBytes: config.flushThresholdBytes,
          maxBufferBytes: config.maxBufferBytes,
          flushIntervalMs: config.flushIntervalMs,
        },
        totals: {
          streams: rows.length,
          stuck: rows.filter((row) => row.stuck).length,
          countersLost: rows.filter((row) => row.countersLost).length,
          bufferBytes: sum((row) => row.bufferBytes),
          sealedGenerations: sum((row) => row.sealedGenerations),
          sealedBytes: sum((row) => row.sealedBytes),
          accepted: sum((row) => row.accepted),
          landed: sum((row) => row.landed),
          duplicates: sum((row) => row.duplicates),
          rejected: sum((row) => row.rejected),
          quarantineDropped: sum((row) => row.quarantineDropped),
          // Per stream: a stream whose counters were lost (landed > accepted) must not cancel
          // out what another has in flight.
          inFlight: sum((row) => Math.max(0, row.accepted - row.landed)),
          eventsPerSecond: sumRates((row) => row.eventsPerSecond),
          bytesPerSecond: sumRates((row) => row.bytesPerSecond),
        },
        streams: rows,
        queue: {
          waiting: counts.waiting ?? 0,
          active: counts.active ?? 0,
          delayed: counts.delayed ?? 0,
          failed: counts.failed ?? 0,
          prioritized: counts.prioritized ?? 0,
          oldestWaitingAgeMs: oldestJob ? Math.max(0, now - oldestJob.timestamp) : null,
        },
        lastFlushError: lastFlushError && {
          ...lastFlushError,
          landedSince: landedAfter(rows, lastFlushError),
        },
        redis: redisHealth,
      },
    };
  };

  return async function readStatus(limit = DEFAULT_STREAM_LIMIT): Promise<Status> {
    if (!last || Date.now() - last.sampledAt >= SAMPLE_EVERY_MS) {
      sampling ??= sample().finally(() => {
        sampling = undefined;
      });
      last = await sampling;
    }
    // Sorted once per reading (sample): a request costs its slice, not a sort of every stream.
    const { streams, ...rest } = last.status;
    return { ...rest, streams: streams.slice(0, limit), limit };
  };
}

/** Whether the error's stream has landed an object since the error (ISO times compare as text). */
function landedAfter(rows: readonly StreamRow[], error: FlushErrorRecord): boolean {
  const landedAt = rows.find((row) => row.stream === error.stream)?.lastObject?.landedAt;
  return landedAt !== undefined && landedAt > error.at;
}
