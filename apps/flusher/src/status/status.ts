import { type Config, type FlushJobData, type RedisClient, streamForgetAfterMs } from '@spool/shared';
import type { Queue } from 'bullmq';
import { type FlushErrorRecord, readLastFlushError } from './flush-errors.js';
import { latestReading } from './latest-reading.js';
import { type RedisHealth, readRedisHealthOrUnchecked } from './redis-health.js';
import { type StatusAlert, statusAlerts } from './status-alerts.js';
import { type StreamStatus, streamStatusPages } from './stream-status.js';
import { topRows } from './top-rows.js';

/** How many of the next flush jobs to run the status reads for the oldest waiting one. */
const OLDEST_WAITING_AMONG = 100;

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
    /** Streams holding over NEARLY_FULL_SHARE of MAX_BUFFER_BYTES (StreamStatus.nearlyFull). */
    nearlyFull: number;
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
  /** `limit` of the `totals.streams` units: the stuck first, then the nearly full, then those holding the most data, then the oldest. */
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
  /** What the page and `spool status` say above their tables (status-alerts.ts). */
  alerts: StatusAlert[];
}

export const DEFAULT_STREAM_LIMIT = 50;
export const MAX_STREAM_LIMIT = 1_000;

type Totals = Status['totals'];

/** The totals over no stream yet; the rates 0 where a previous reading gives them, else null. */
export function noTotals(rated: boolean): Totals {
  return {
    streams: 0,
    stuck: 0,
    nearlyFull: 0,
    countersLost: 0,
    bufferBytes: 0,
    sealedGenerations: 0,
    sealedBytes: 0,
    accepted: 0,
    landed: 0,
    duplicates: 0,
    rejected: 0,
    quarantineDropped: 0,
    inFlight: 0,
    eventsPerSecond: rated ? 0 : null,
    bytesPerSecond: rated ? 0 : null,
  };
}

interface Sample {
  /** Redis's clock (for rates). */
  at: number;
  /** Each unit's counters, for the next reading's rates: numbers, not rows. */
  counters: Map<string, { accepted: number; acceptedBytes: number }>;
  /** Its streams: the first MAX_STREAM_LIMIT by attention, not every one. */
  status: Omit<Status, 'limit'>;
}

/** The order streams are shown in: stuck first, then nearly full, then the most data in Redis, the oldest, by name. */
function byAttention(a: StreamRow, b: StreamRow): number {
  return (
    Number(b.stuck) - Number(a.stuck) ||
    Number(b.nearlyFull) - Number(a.nearlyFull) ||
    b.bufferBytes + b.sealedBytes - (a.bufferBytes + a.sealedBytes) ||
    (b.ageMs ?? -1) - (a.ageMs ?? -1) ||
    (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0)
  );
}

/**
 * Builds the status, O(streams) in Redis commands and never O(buffer size), at most once a second
 * whatever the number of viewers; rates come from the difference with the previous reading. Its
 * memory does not grow with the streams' rows: it keeps MAX_STREAM_LIMIT of them and two numbers
 * a stream. A reading of many streams takes seconds (docs/operations.md): while one moves on, an
 * answer comes from the last one done.
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

  const readStreams = async (
    previous: Sample | undefined,
    errorStream: string | undefined,
    progressed: (streams: number) => void,
  ) => {
    const top = topRows<StreamRow>(MAX_STREAM_LIMIT, byAttention);
    const counters: Sample['counters'] = new Map();
    const totals = noTotals(previous !== undefined);
    let now = 0;
    let errorStreamLandedAt: string | undefined;
    let errorStreamRegistered = false;
    for await (const page of streamStatusPages(redis, config)) {
      now = page.now;
      const seconds = previous ? (now - previous.at) / 1000 : 0;
      const rate = (current: number, earlier: number | undefined) =>
        earlier === undefined || seconds <= 0 ? null : Math.max(0, (current - earlier) / seconds);
      const rows = page.streams.map((row): StreamRow => {
        const before = previous?.counters.get(row.stream);
        return {
          ...row,
          eventsPerSecond: rate(row.accepted, before?.accepted),
          bytesPerSecond: rate(row.acceptedBytes, before?.acceptedBytes),
        };
      });
      for (const row of rows) {
        counters.set(row.stream, { accepted: row.accepted, acceptedBytes: row.acceptedBytes });
        addToTotals(totals, row);
        if (row.stream === errorStream) {
          errorStreamRegistered = true;
          errorStreamLandedAt = row.lastObject?.landedAt;
        }
      }
      top.add(rows);
      progressed(rows.length);
    }
    return { now, rows: top.rows(), counters, totals, errorStreamLandedAt, errorStreamRegistered };
  };

  const sample = async (
    previous: Sample | undefined,
    progressed: (streams: number) => void,
  ): Promise<Sample> => {
    const lastFlushError = await readLastFlushError(redis, config.namespace);
    const [
      { now, rows, counters, totals, errorStreamLandedAt, errorStreamRegistered },
      counts,
      oldestWaiting,
      redisHealth,
    ] = await Promise.all([
      readStreams(previous, lastFlushError?.stream, progressed),
      queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized'),
      // The next jobs to run: urgent ones (addFlushJob) go before the older time-aged ones, so
      // the oldest waiting job is among them, not at the head, unless more are urgent.
      queue.getJobs(['waiting'], 0, OLDEST_WAITING_AMONG - 1, true),
      readRedisHealthOrUnchecked(redis),
    ]);
    const oldestTimestamp = Math.min(...oldestWaiting.map((job) => job.timestamp));
    const status: Omit<Status, 'limit' | 'alerts'> = {
      generatedAt: new Date(now).toISOString(),
      settings: {
        flushThresholdBytes: config.flushThresholdBytes,
        maxBufferBytes: config.maxBufferBytes,
        flushIntervalMs: config.flushIntervalMs,
      },
      totals,
      streams: rows,
      queue: {
        waiting: counts.waiting ?? 0,
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        failed: counts.failed ?? 0,
        prioritized: counts.prioritized ?? 0,
        oldestWaitingAgeMs: oldestWaiting.length > 0 ? Math.max(0, now - oldestTimestamp) : null,
      },
      lastFlushError: lastFlushError && {
        ...lastFlushError,
        // ISO times compare as text.
        // A stream the sweep forgot (idle past the registry's horizon, nothing left in Redis)
        // took its lastLandedAt with it: its old error is history, not a problem again.
        landedSince:
          (errorStreamLandedAt !== undefined && errorStreamLandedAt > lastFlushError.at) ||
          (!errorStreamRegistered &&
            now - Date.parse(lastFlushError.at) > streamForgetAfterMs(config.flushIntervalMs)),
      },
      redis: redisHealth,
    };
    // Named from the MAX_STREAM_LIMIT rows kept, not the `limit` a reader asks for.
    return { at: now, counters, status: { ...status, alerts: statusAlerts(status) } };
  };

  const reading = latestReading(sample);

  return Object.assign(
    async function readStatus(limit = DEFAULT_STREAM_LIMIT): Promise<Status> {
      const { streams, ...rest } = (await reading.get()).status;
      return { ...rest, streams: streams.slice(0, limit), limit };
    },
    {
      /** The streams read so far by a reading under way that still moves on; undefined otherwise. */
      readingProgress: reading.progress,
    },
  );
}

/** What statusReader returns: the status for up to `limit` streams, and how far a reading under way has got. */
export type StatusReader = ReturnType<typeof statusReader>;

function addToTotals(totals: Totals, row: StreamRow): void {
  totals.streams += 1;
  totals.stuck += Number(row.stuck);
  totals.nearlyFull += Number(row.nearlyFull);
  totals.countersLost += Number(row.countersLost);
  totals.bufferBytes += row.bufferBytes;
  totals.sealedGenerations += row.sealedGenerations;
  totals.sealedBytes += row.sealedBytes;
  totals.accepted += row.accepted;
  totals.landed += row.landed;
  totals.duplicates += row.duplicates;
  totals.rejected += row.rejected;
  totals.quarantineDropped += row.quarantineDropped;
  // Per stream: a stream whose counters were lost (landed > accepted) must not cancel out what
  // another has in flight.
  totals.inFlight += Math.max(0, row.accepted - row.landed);
  if (totals.eventsPerSecond !== null) totals.eventsPerSecond += row.eventsPerSecond ?? 0;
  if (totals.bytesPerSecond !== null) totals.bytesPerSecond += row.bytesPerSecond ?? 0;
}
