import {
  appendToBuffer,
  type Config,
  crossedThreshold,
  FLUSH_JOB,
  FLUSH_JOB_OPTIONS,
  type FlushJobData,
  flushJobId,
  OTHER_STREAMS_LABEL,
  streamKeys,
  streamsKey,
} from '@spool/shared';
import type { Queue } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import type { Cluster, Redis } from 'ioredis';
import { errors } from './errors.js';
import type { IngestMetrics } from './metrics.js';

/** Streams remembered as already in the stream set (an optimisation; forgetting costs one SADD). */
const MAX_REMEMBERED_STREAMS = 10_000;

/** A group is sent at once when it reaches this size, whatever the window. */
const MAX_GROUP_BYTES = 4 * 1024 * 1024;

/** One request's lines, and how to answer it. */
interface Member {
  lines: string;
  bytes: number;
  events: number;
  resolve(): void;
  reject(error: Error): void;
}

interface Group {
  stream: string;
  members: Member[];
  bytes: number;
  events: number;
  timer?: NodeJS.Timeout | NodeJS.Immediate;
}

export interface GroupCommitDeps {
  config: Pick<Config, 'flushThresholdBytes' | 'maxBufferBytes' | 'groupCommitWindowMs' | 'namespace'>;
  redis: Redis | Cluster;
  queue: Queue<FlushJobData>;
  logger: FastifyBaseLogger;
  metrics: IngestMetrics;
}

/**
 * Group commit: requests for one stream that arrive within the window (by default, the same turn
 * of the event loop) share one atomic append — one Redis round trip for many requests. Each
 * request's promise settles only once its group's append is acknowledged by Redis, so a 202 is
 * never sent for events Redis does not hold. A group refused as a whole (it would pass
 * MAX_BUFFER_BYTES) appends nothing; its requests are then tried one by one, so those that still
 * fit are accepted and only the rest get 503.
 *
 * The append whose result crosses FLUSH_THRESHOLD_BYTES adds the generation's flush job; the
 * crossing is decided from APPEND's return value inside one atomic script, so across any number
 * of groups and ingest processes exactly one append crosses per generation.
 */
export class GroupCommit {
  private readonly open = new Map<string, Group>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly registeredStreams = new Set<string>();

  constructor(private readonly deps: GroupCommitDeps) {}

  /** Appends complete lines to the stream's buffer; resolves once Redis holds them. */
  append(stream: string, lines: string, events: number, bytes: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let group = this.open.get(stream);
      if (!group) {
        group = { stream, members: [], bytes: 0, events: 0 };
        this.open.set(stream, group);
        this.schedule(group);
      }
      group.members.push({ lines, bytes, events, resolve, reject });
      group.bytes += bytes;
      group.events += events;
      if (group.bytes >= MAX_GROUP_BYTES) this.send(group);
    });
  }

  /** Sends every open group and waits for all appends in flight (shutdown). */
  async drain(): Promise<void> {
    for (const group of [...this.open.values()]) this.send(group);
    // A refused group's requests are retried singly, adding work while we wait.
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private schedule(group: Group): void {
    const { groupCommitWindowMs } = this.deps.config;
    group.timer =
      groupCommitWindowMs > 0
        ? setTimeout(() => this.send(group), groupCommitWindowMs)
        : setImmediate(() => this.send(group));
  }

  private send(group: Group): void {
    if (this.open.get(group.stream) !== group) return;
    this.open.delete(group.stream);
    if (group.timer) {
      clearTimeout(group.timer as NodeJS.Timeout);
      clearImmediate(group.timer as NodeJS.Immediate);
    }
    this.track(this.commit(group));
  }

  private track(work: Promise<void>): void {
    const tracked = work.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async commit(group: Group): Promise<void> {
    const { config, redis, logger, metrics } = this.deps;
    const { members } = group;
    const chunk =
      members.length === 1 ? (members[0] as Member).lines : members.map((member) => member.lines).join('');
    const endTimer = metrics.appendSeconds.startTimer();
    let result: Awaited<ReturnType<typeof appendToBuffer>>;
    try {
      result = await appendToBuffer(
        redis,
        streamKeys(group.stream, config.namespace),
        chunk,
        group.events,
        config.maxBufferBytes,
        Date.now(),
      );
    } catch (error) {
      metrics.failures.inc({ operation: 'append' });
      logger.error({ err: error, stream: group.stream }, 'append failed; answering 503');
      this.dropStalledConnection(error);
      for (const member of members) member.reject(new errors.SPOOL_REDIS_UNAVAILABLE());
      return;
    } finally {
      endTimer();
      metrics.groupSize.observe(members.length);
    }

    if (result.refused && members.length > 1) {
      // The group as a whole does not fit; some of its requests may.
      for (const member of members) {
        this.track(
          this.commit({
            stream: group.stream,
            members: [member],
            bytes: member.bytes,
            events: member.events,
          }),
        );
      }
      return;
    }
    if (result.refused) {
      logger.warn({ stream: group.stream, length: result.length }, 'buffer full; refusing appends');
      (members[0] as Member).reject(new errors.SPOOL_BUFFER_FULL(group.stream, result.length));
      return;
    }

    const label = metrics.streamLabel(group.stream);
    metrics.bytes.inc({ stream: label }, group.bytes);
    if (label !== OTHER_STREAMS_LABEL) metrics.bufferBytes.set({ stream: label }, result.length);
    // Both follow-ups are recoverable if they fail (the sweep finds the stream and the crossing),
    // so the events, already in Redis, are acknowledged regardless.
    await Promise.all([
      this.registerStream(group.stream, result.started),
      crossedThreshold(result.length, group.bytes, config.flushThresholdBytes)
        ? this.enqueueFlush(group.stream, result.gen)
        : undefined,
    ]);
    for (const member of members) member.resolve();
  }

  /**
   * A command that timed out leaves its connection waiting for a reply that may never come, and
   * every later command queued behind it. A fresh connection serves the next requests instead.
   */
  private dropStalledConnection(error: unknown): void {
    const { redis, logger } = this.deps;
    if ((error as Error).message === 'Command timed out' && redis.status === 'ready') {
      logger.warn('Redis did not answer within REDIS_COMMAND_TIMEOUT; reconnecting');
      redis.disconnect(true);
    }
  }

  /** Adds the stream to `spool:streams` (another Cluster slot than the append) the first time it is seen. */
  private async registerStream(stream: string, started: boolean): Promise<void> {
    if (!started && this.registeredStreams.has(stream)) return;
    try {
      await this.deps.redis.sadd(streamsKey(this.deps.config.namespace), stream);
      // Only a cache of what needs no SADD; bounded, since stream names come from clients.
      if (this.registeredStreams.size >= MAX_REMEMBERED_STREAMS) this.registeredStreams.clear();
      this.registeredStreams.add(stream);
    } catch (error) {
      this.deps.metrics.failures.inc({ operation: 'register_stream' });
      this.deps.logger.error({ err: error, stream }, 'could not add the stream to spool:streams; will retry');
    }
  }

  private async enqueueFlush(stream: string, gen: number): Promise<void> {
    const jobId = flushJobId(stream, gen);
    try {
      await this.deps.queue.add(FLUSH_JOB, { stream, gen }, { ...FLUSH_JOB_OPTIONS, jobId });
      this.deps.metrics.flushJobsEnqueued.inc();
      this.deps.logger.info({ stream, gen, jobId }, 'buffer crossed the flush threshold; flush job added');
    } catch (error) {
      this.deps.metrics.failures.inc({ operation: 'enqueue_flush' });
      this.deps.logger.error(
        { err: error, stream, gen, jobId },
        'could not add the flush job; the sweep will',
      );
    }
  }
}
