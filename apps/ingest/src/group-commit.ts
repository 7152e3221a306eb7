import {
  type AppendResult,
  addFlushJob,
  appendToBuffer,
  type ClientMessageIds,
  type Config,
  crossedThreshold,
  type FlushJobData,
  flushJobId,
  MAX_STREAM_SHARDS,
  type MemoryReserve,
  masterOfKey,
  OTHER_STREAMS_LABEL,
  type RepeatedLog,
  type ReplicaAck,
  ReplicaAckError,
  recordRejected,
  redisNow,
  repeatedLog,
  repeatedLogPerKey,
  replicaAckOf,
  replyCode,
  shardCount,
  shardUnit,
  streamKeys,
  streamOfUnit,
  unitLimits,
} from '@spool/shared';
import type { Queue } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import { Cluster, type Redis } from 'ioredis';
import { abandoned, type RequestClient } from './abandoned-requests.js';
import { escapeLineSeparators } from './body/line-separators.js';
import { errors } from './errors.js';
import type { IngestMetrics } from './metrics.js';
import { type ShardPart, splitByShard } from './shard-lines.js';
import { StreamRegistration } from './stream-registration.js';

/** A group is sent at once when it reaches this size, whatever the window. */
const MAX_GROUP_BYTES = 4 * 1024 * 1024;

/** What one request asks to store in one buffer unit: its lines, and the messageIds its client chose. */
interface UnitLines {
  /** Complete lines, each ending in "\n". */
  text: string;
  count: number;
  bytes: number;
  /** The messageIds the client chose, and their lines in `text`. */
  clientIds: ClientMessageIds;
}

/** What one request asks to store in a stream. */
export interface AppendLines extends UnitLines {
  /** The lines one by one (`text` is their join): a sharded stream splits them among its shards. */
  parts: readonly string[];
}

/** A request's rejected events, as recordRejected keeps them. */
export interface RejectedLines {
  rejected: ReadonlyArray<{ index: number; code: string; message: string }>;
  rejectedText: readonly string[];
  rejectedTextCut: readonly boolean[];
  rejectedCount: number;
}

/** What became of a request's events once Redis answered. */
export interface Appended {
  /** Events left out because the stream already accepted their messageId (within DEDUPE_WINDOW). */
  duplicates: number;
}

/** One request's lines, and how to answer it. */
interface Member {
  lines: UnitLines;
  resolve(appended: Appended): void;
  reject(error: Error): void;
  /** Its client, where a request held too long whose client is gone stores nothing (abandoned-requests.ts). */
  client?: RequestClient;
}

interface Group {
  /** The buffer unit: the stream, or one shard of it. */
  stream: string;
  members: Member[];
  bytes: number;
  events: number;
  timer?: NodeJS.Timeout | NodeJS.Immediate;
}

export interface GroupCommitDeps {
  config: Pick<
    Config,
    | 'flushThresholdBytes'
    | 'maxBufferBytes'
    | 'groupCommitWindowMs'
    | 'quarantineMaxEvents'
    | 'namespace'
    | 'dedupeWindowMs'
    | 'minReplicasAck'
    | 'redisCommandTimeoutMs'
    | 'streamShards'
    | 'memoryReserve'
  >;
  redis: Redis | Cluster;
  queue: Queue<FlushJobData>;
  logger: FastifyBaseLogger;
  metrics: IngestMetrics;
  /**
   * The memory reserve an append checks now (redis-room.ts): none while Redis is far from its
   * maxmemory. Unset, every append checks `config.memoryReserve`.
   */
  memoryReserve?: () => MemoryReserve | undefined;
}

/** With dedupe off, no id goes to Redis. */
const NO_CLIENT_IDS: ClientMessageIds = Object.freeze({ ids: [], lines: [] }) as unknown as ClientMessageIds;

/** The client messageIds of several requests, their lines counted across the group. */
function groupClientIds(members: Member[]): ClientMessageIds {
  if (members.length === 1) return (members[0] as Member).lines.clientIds;
  const group: ClientMessageIds = { ids: [], lines: [] };
  let base = 0;
  for (const { lines } of members) {
    for (const id of lines.clientIds.ids) group.ids.push(id);
    for (const line of lines.clientIds.lines) group.lines.push(line + base);
    base += lines.count;
  }
  return group;
}

/**
 * Group commit: requests for one stream that arrive within the window (by default, the same turn
 * of the event loop) share one atomic append, one Redis round trip for many requests. Each
 * request's promise settles only once its group's append is acknowledged by Redis, so a 202 is
 * never sent for events Redis does not hold. Dedupe runs inside that one append, so two requests
 * of one group carrying the same messageId store it once. A group refused as a whole (it would
 * pass MAX_BUFFER_BYTES) appends nothing; its requests are then tried one by one, so those that
 * still fit are accepted and only the rest get 503.
 *
 * Before its first append, and then at least every STREAM_REGISTRATION_REFRESH_MS, a stream is
 * registered for the sweep; a failed registration fails the append before anything is stored.
 * The append whose result crosses FLUSH_THRESHOLD_BYTES adds the generation's flush job; the
 * crossing is decided from APPEND's return value inside one atomic script, so across any number
 * of groups and ingest processes exactly one append crosses per generation.
 */
export class GroupCommit {
  private readonly open = new Map<string, Group>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly registration: StreamRegistration;
  private readonly replicaAck: ReplicaAck | undefined;
  /** False when no stream is sharded (the usual case): units are then streams, limits the config's. */
  private readonly sharded: boolean;
  /** Rotates the shard that takes a request's lines without client ids, spreading them. */
  private spareShard = 0;
  /** What may be said for every request, said once per 10 s (repeatedLog): by operation and cause. */
  private readonly failureLogs = repeatedLogPerKey();
  private readonly logBufferFull: RepeatedLog;
  private readonly logRedisFull: RepeatedLog;
  private readonly logEnqueueFailure: RepeatedLog;

  constructor(private readonly deps: GroupCommitDeps) {
    this.logBufferFull = repeatedLog(deps.logger, 'buffer full; refusing appends');
    this.logRedisFull = repeatedLog(
      deps.logger,
      'Redis within REDIS_MEMORY_RESERVE of its maxmemory; refusing appends',
    );
    this.logEnqueueFailure = repeatedLog(deps.logger, 'could not add the flush job; the sweep will', {
      level: 'error',
    });
    this.replicaAck = replicaAckOf(deps.config);
    this.registration = new StreamRegistration(deps.redis, deps.config.namespace, this.replicaAck);
    this.sharded = deps.config.streamShards.default > 1 || deps.config.streamShards.streams.size > 0;
  }

  /**
   * Records a request's rejected events on the stream (shard 0's keys, for a sharded stream): its
   * counter, for the status page, and its quarantine, the listed ones with their text, for S3.
   * `stored`: the request stored events (on any shard), so the stream is real even where shard 0
   * has stored nothing yet. Best effort: what Redis could not take is not worth a 503 (the answer
   * lists them anyway).
   */
  async recordRejected(
    stream: string,
    lines: RejectedLines,
    request: { id: string; at: string },
    stored: boolean,
  ): Promise<void> {
    const { config, redis, logger } = this.deps;
    const entries =
      config.quarantineMaxEvents === 0
        ? []
        : lines.rejected.map((event, i) =>
            escapeLineSeparators(
              JSON.stringify({
                receivedAt: request.at,
                requestId: request.id,
                index: event.index,
                code: event.code,
                message: event.message,
                text: lines.rejectedText[i] ?? '',
                truncated: lines.rejectedTextCut[i] ?? false,
              }),
            ),
          );
    try {
      const counted = await recordRejected(
        redis,
        streamKeys(stream, config.namespace),
        { count: lines.rejectedCount, entries, stored: stored || (await this.storedOnAnotherShard(stream)) },
        config.quarantineMaxEvents,
        this.memoryReserve(),
      );
      // Kept: the sweep must visit the stream to write them, even one idle long enough to be forgotten.
      if (counted > 0 && entries.length > 0) await this.registration.ensure(stream);
    } catch (error) {
      logger.warn({ err: error, stream }, 'could not record rejected events');
    }
  }

  /**
   * Whether a sharded stream has stored events on a shard other than shard 0, whose keys hold its
   * record: the registry knows one of its shards. A new stream of 4 shards stores its first events
   * off shard 0 three times in four, and a request refused whole was then recorded nowhere, its
   * events in the metric and not in the quarantine or the status page's count (a review's run).
   * One command, for a sharded stream's requests refused whole only.
   */
  private async storedOnAnotherShard(stream: string): Promise<boolean> {
    const shards = this.shardsOf(stream);
    if (shards === 1) return false;
    const others = Array.from({ length: shards - 1 }, (_, i) => shardUnit(stream, i + 1));
    return this.registration.anyRegistered(others);
  }

  /** The memory reserve a write checks now (GroupCommitDeps.memoryReserve). */
  private memoryReserve(): MemoryReserve | undefined {
    return this.deps.memoryReserve ? this.deps.memoryReserve() : this.deps.config.memoryReserve;
  }

  /** Appends a request's lines to the stream's buffer (or its shards'); resolves once Redis holds them. */
  append(stream: string, lines: AppendLines, client?: RequestClient): Promise<Appended> {
    const shards = this.shardsOf(stream);
    return shards === 1
      ? this.appendToUnit(stream, lines, client)
      : this.appendToShards(stream, lines, shards, client);
  }

  /**
   * A sharded stream's request: each shard's lines go to that shard's group, and the request is
   * answered once all are stored. When some are refused, the answer says what became of the
   * rest: a refusal that all parts share keeps its meaning (a full buffer stored nothing, an
   * unconfirmed append may be stored); otherwise some events are stored and a retry with the
   * same messageIds stores only the others (SPOOL_PARTLY_STORED).
   */
  private async appendToShards(
    stream: string,
    lines: AppendLines,
    shards: number,
    client: RequestClient | undefined,
  ): Promise<Appended> {
    this.spareShard = (this.spareShard + 1) % MAX_STREAM_SHARDS;
    const parts = splitByShard(lines, shards, this.spareShard % shards);
    const results = await Promise.allSettled(
      parts.map((part) => this.appendToUnit(shardUnit(stream, part.shard), part, client)),
    );
    const stored: StoredEvents = { accepted: 0, duplicates: 0, abandoned: 0 };
    const refusals: Error[] = [];
    results.forEach((result, i) => {
      if (result.status === 'rejected') {
        refusals.push(result.reason as Error);
        if (codeOf(result.reason as Error) === 'SPOOL_CLIENT_GONE')
          stored.abandoned += (parts[i] as ShardPart).count;
        return;
      }
      stored.accepted += (parts[i] as ShardPart).count - result.value.duplicates;
      stored.duplicates += result.value.duplicates;
    });
    if (refusals.length === 0) return { duplicates: stored.duplicates };
    throw shardedRefusal(stream, refusals, results.length, stored);
  }

  /** Appends lines to one buffer unit (a stream, or one shard of it) in its group. */
  private appendToUnit(unit: string, lines: UnitLines, client: RequestClient | undefined): Promise<Appended> {
    return new Promise<Appended>((resolve, reject) => {
      let group = this.open.get(unit);
      if (!group) {
        group = { stream: unit, members: [], bytes: 0, events: 0 };
        this.open.set(unit, group);
        this.schedule(group);
      }
      group.members.push({ lines, resolve, reject, client });
      group.bytes += lines.bytes;
      group.events += lines.count;
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
    const { config, redis, metrics } = this.deps;
    let { members } = group;
    const failAll = (operation: 'register_stream' | 'append' | 'replicate', error: unknown, key: string) => {
      metrics.failures.inc({ operation });
      this.logFailure(operation, error, group.stream);
      this.dropStalledConnection(error, key);
      for (const member of members) member.reject(new errors.SPOOL_REDIS_UNAVAILABLE());
    };
    let registeredNow = false;
    try {
      // Usually registered already: then there is no promise to wait for.
      const registering = this.registration.ensure(group.stream);
      if (registering) await registering;
      registeredNow = registering !== undefined;
    } catch (error) {
      failAll(
        error instanceof ReplicaAckError ? 'replicate' : 'register_stream',
        error,
        this.registration.registry,
      );
      return;
    }
    // Just before the append: a freeze found the request waiting in its group (or on the
    // registration) as often as before it (a review's run).
    const gone = await abandoned(members, config.dedupeWindowMs);
    if (gone.size > 0) {
      for (const member of gone) member.reject(new errors.SPOOL_CLIENT_GONE());
      members = members.filter((member) => !gone.has(member));
      if (members.length === 0) return;
    }
    const events = gone.size > 0 ? members.reduce((sum, { lines }) => sum + lines.count, 0) : group.events;
    const limits = this.limitsOf(group.stream);
    const keys = streamKeys(group.stream, config.namespace);
    const endTimer = metrics.appendSeconds.startTimer();
    let result: AppendResult;
    try {
      result = await appendToBuffer(
        redis,
        keys,
        {
          chunk:
            members.length === 1
              ? (members[0] as Member).lines.text
              : members.map((m) => m.lines.text).join(''),
          eventCount: events,
          maxBytes: limits.maxBufferBytes,
          dedupeWindowMs: config.dedupeWindowMs,
          clientIds: config.dedupeWindowMs > 0 ? groupClientIds(members) : NO_CLIENT_IDS,
          memoryReserve: this.memoryReserve(),
        },
        this.replicaAck,
      );
    } catch (error) {
      failAll(error instanceof ReplicaAckError ? 'replicate' : 'append', error, keys.buf);
      return;
    } finally {
      endTimer();
      metrics.groupSize.observe(members.length);
    }

    if (result.refused === 'memory') {
      // Redis as a whole is short of room, not this stream: no smaller part of the group fits
      // better, and the flushers need what is left. Its numbers go to the log, not to clients.
      const { usedMemory, maxMemory } = result;
      this.logRedisFull(undefined, { stream: group.stream, usedMemory, maxMemory });
      for (const member of members) member.reject(new errors.SPOOL_REDIS_FULL());
      return;
    }
    if (result.refused && members.length > 1) {
      // The group as a whole does not fit; some of its requests may.
      for (const member of members) {
        this.track(
          this.commit({
            stream: group.stream,
            members: [member],
            bytes: member.lines.bytes,
            events: member.lines.count,
          }),
        );
      }
      return;
    }
    if (result.refused) {
      this.logBufferFull(undefined, { stream: group.stream, held: result.held });
      (members[0] as Member).reject(new errors.SPOOL_BUFFER_FULL(group.stream, result.held));
      return;
    }

    if (result.started && !registeredNow) await this.renewRegistration(group.stream);

    const stream = streamOfUnit(group.stream);
    const label = metrics.streamLabel(stream);
    metrics.bytes.inc({ stream: label }, result.appended);
    // A sharded stream's gauge is the sum of its shards: the sweep sets it. (Shard 0's unit is the
    // stream's own name, so the unit alone cannot tell.)
    if (label !== OTHER_STREAMS_LABEL && this.shardsOf(stream) === 1) {
      metrics.bufferBytes.set({ stream: label }, result.length);
    }
    // Recoverable if it fails (the sweep finds the crossing), so the events, already in Redis,
    // are acknowledged regardless.
    if (crossedThreshold(result.length, result.appended, limits.flushThresholdBytes)) {
      await this.enqueueFlush(group.stream, result.gen);
    }
    this.answer(members, result.duplicates);
  }

  /**
   * Registers again a unit whose append started a new buffer (once a generation: StreamRegistration
   * .renew says why). Its events are stored whatever happens here, so they are acknowledged: a
   * registration that fails is retried by the next append, and by the refresh after it.
   */
  private async renewRegistration(unit: string): Promise<void> {
    try {
      await this.registration.renew(unit);
    } catch (error) {
      this.registration.forget(unit);
      this.deps.metrics.failures.inc({ operation: 'register_stream' });
      this.deps.logger.warn(
        { err: error, stream: unit },
        'could not register the stream again; the next append will',
      );
    }
  }

  /** How many shards `stream` is split over (1 for most, and every stream when none is sharded). */
  private shardsOf(stream: string): number {
    return this.sharded ? shardCount(this.deps.config.streamShards, stream) : 1;
  }

  /** A unit's threshold and maximum: the stream's, or a shard's share of them. */
  private limitsOf(unit: string): { flushThresholdBytes: number; maxBufferBytes: number } {
    return this.sharded ? unitLimits(this.deps.config, unit) : this.deps.config;
  }

  /** Resolves each request with its share of the group's duplicates (line indexes, ascending). */
  private answer(members: Member[], duplicates: number[]): void {
    let next = 0;
    let base = 0;
    for (const member of members) {
      const end = base + member.lines.count;
      let count = 0;
      while (next < duplicates.length && (duplicates[next] as number) < end) {
        count += 1;
        next += 1;
      }
      member.resolve({ duplicates: count });
      base = end;
    }
  }

  /**
   * `<operation> failed; answering 503`, once per 10 s for each operation and cause, with a
   * count: while Redis was away every request logged it, with its stack (685 KB for 500
   * requests). A new cause (OOM after READONLY, say) is said at once. With the connection's state:
   * while Redis is away the error is ioredis's own ("Stream isn't writeable…"), and the cause
   * (ECONNREFUSED, WRONGPASS) is in `redis connection error`, at warn (a review of the logs).
   */
  private logFailure(operation: string, error: unknown, stream: string): void {
    const log = this.failureLogs(`${operation}:${causeOf(error)}`, () =>
      repeatedLog(this.deps.logger, `${operation} failed; answering 503`, { level: 'error' }),
    );
    log(error, { stream, redisConnection: this.deps.redis.status });
  }

  /**
   * A command that timed out leaves its connection waiting for a reply that may never come, and
   * every later command queued behind it. A fresh connection serves the next requests instead:
   * on a cluster, the connection to the master of `key` (the command's), and no other. Dropping
   * the whole cluster client for one slow master answered 503 to streams on healthy masters, and
   * cut their appends in flight.
   */
  private dropStalledConnection(error: unknown, key: string): void {
    const { redis, logger } = this.deps;
    if ((error as Error).message !== 'Command timed out' || redis.status !== 'ready') return;
    logger.warn('Redis did not answer within REDIS_COMMAND_TIMEOUT; reconnecting');
    if (redis instanceof Cluster) masterOfKey(redis, key)?.disconnect(true);
    else redis.disconnect(true);
  }

  private async enqueueFlush(stream: string, gen: number): Promise<void> {
    const jobId = flushJobId(stream, gen);
    try {
      // Dated on Redis's clock, as the sweep dates the jobs it queues: the status's oldest wait
      // and the sweep's ageing read it so. On this host's clock, an ingest an hour behind Redis
      // had a job queued 3 s before shown waiting an hour (a review's run, faketime).
      const queuedAt = await redisNow(this.deps.redis).catch(() => undefined);
      await addFlushJob(this.deps.queue, stream, gen, { urgent: true, queuedAt });
      this.deps.metrics.flushJobsEnqueued.inc();
      this.deps.logger.info({ stream, gen, jobId }, 'buffer crossed the flush threshold; flush job added');
    } catch (error) {
      this.deps.metrics.failures.inc({ operation: 'enqueue_flush' });
      this.logEnqueueFailure(error, { stream, gen, jobId });
    }
  }
}

const codeOf = (error: Error) => (error as { code?: string }).code;

/** What the stored parts of a sharded request stored, and left out as duplicates; and the events of parts whose client was gone. */
export interface StoredEvents {
  accepted: number;
  duplicates: number;
  /** Events of parts refused SPOOL_CLIENT_GONE (abandoned-requests.ts): a freeze between two shards' appends. */
  abandoned: number;
}

/**
 * The answer to a sharded request some of whose `parts` were refused. When every part was refused
 * it keeps the refusals' meaning: theirs when they agree, else "may be stored" when any may be (a
 * retry is right either way, and no part is stored twice), else the first. When some part was
 * stored: SPOOL_PARTLY_STORED, carrying what the stored parts did (`storedEventsOf`).
 */
export function shardedRefusal(
  stream: string,
  refusals: readonly Error[],
  parts: number,
  stored: StoredEvents,
): Error {
  const [first] = refusals as [Error, ...Error[]];
  if (refusals.length < parts) return Object.assign(new errors.SPOOL_PARTLY_STORED(stream), { stored });
  if (refusals.every((error) => codeOf(error) === codeOf(first))) return first;
  return refusals.find((error) => codeOf(error) === 'SPOOL_REDIS_UNAVAILABLE') ?? first;
}

/**
 * The events a SPOOL_PARTLY_STORED refusal did store: the retry answers them as duplicates, so
 * they are counted as accepted only here. Undefined for any other error.
 */
export function storedEventsOf(error: unknown): StoredEvents | undefined {
  return codeOf(error as Error) === 'SPOOL_PARTLY_STORED'
    ? (error as { stored?: StoredEvents }).stored
    : undefined;
}

/** What kind of failure `error` is, for counting repeats: a reply's code (OOM, READONLY), else a system code, else its message. */
function causeOf(error: unknown): string {
  const { name, code, message } = error as { name?: string; code?: string; message?: string };
  if (name === 'ReplyError') return replyCode(message ?? '');
  return code ?? message ?? String(error);
}
