import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Cluster, type Redis, type Result } from 'ioredis';
import { type MemoryReserve, OUTPUT_FORMATS, type OutputFormat } from './config-fields.js';
import type { StreamKeys } from './keys.js';
import { clusterNodeAt } from './redis-connection.js';

/**
 * The Lua scripts of the Redis protocol (lua/*.lua, named `<name>-<numberOfKeys>.lua`), registered
 * on a client with `defineCommand` and typed for callers below. A line `--- @include "<name>"`
 * takes in lua/includes/<name>.lua, so shared Lua is written once.
 */

function lua(file: string): string {
  // `../lua/` from both src/ (tests) and dist/ (built code).
  const text = readFileSync(new URL(`../lua/${file}`, import.meta.url), 'utf8');
  return text.replace(/^--- @include "([a-z0-9-]+)"$/gm, (_line, name: string) =>
    lua(`includes/${name}.lua`),
  );
}

const COMMANDS = {
  spoolAppend: { numberOfKeys: 6, lua: lua('append-6.lua') },
  spoolSeal: { numberOfKeys: 7, lua: lua('seal-7.lua') },
  spoolRelease: { numberOfKeys: 6, lua: lua('release-6.lua') },
  spoolRegisterStream: { numberOfKeys: 1, lua: lua('register-stream-1.lua') },
  spoolForgetStream: { numberOfKeys: 1, lua: lua('forget-stream-1.lua') },
  spoolPurgeStream: { numberOfKeys: 9, lua: lua('purge-stream-9.lua') },
  spoolReconcileSealed: { numberOfKeys: 3, lua: lua('reconcile-sealed-3.lua') },
  spoolReject: { numberOfKeys: 4, lua: lua('reject-4.lua') },
  spoolDrain: { numberOfKeys: 4, lua: lua('drain-4.lua') },
  spoolPinDestination: { numberOfKeys: 1, lua: lua('pin-destination-1.lua') },
  spoolRepinDestination: { numberOfKeys: 1, lua: lua('repin-destination-1.lua') },
  spoolReadUnit: { numberOfKeys: 10, lua: lua('read-unit-10.lua') },
} as const;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    spoolAppend(
      buf: string,
      gen: string,
      since: string,
      stats: string,
      sealedBytes: string,
      seen: string,
      chunk: string | Buffer,
      eventCount: number,
      maxBytes: number,
      dedupeWindowMs: number,
      idLines: string,
      memoryReserve: string,
      ...ids: string[]
    ): Result<number[], Context>;
    spoolSeal(
      buf: string,
      gen: string,
      since: string,
      sealed: string,
      sealedMeta: string,
      pending: string,
      sealedBytes: string,
      sealGen: number,
      format: string,
      waited?: '1',
    ): Result<[number, number, number, string], Context>;
    spoolRelease(
      sealed: string,
      sealedMeta: string,
      stats: string,
      pending: string,
      sealedBytes: string,
      manifestPending: string,
      eventCount: number,
      gen: number,
      objectKey: string,
      manifestLine: string,
    ): Result<number, Context>;
    spoolRegisterStream(registry: string, stream: string): Result<number, Context>;
    spoolDrain(
      pending: string,
      draining: string,
      drainingId: string,
      stats: string,
      counter: string,
    ): Result<string | null, Context>;
    spoolReject(
      stats: string,
      quarantine: string,
      quarantineSince: string,
      gen: string,
      rejected: number,
      maxKept: number,
      stored: 0 | 1,
      memoryReserve: string,
      ...entries: string[]
    ): Result<number, Context>;
    spoolForgetStream(registry: string, stream: string, cutoffMs: number): Result<number, Context>;
    spoolReadUnit(...keys: string[]): Result<[...UnitCounts, flatStats: string[]], Context>;
    spoolPurgeStream(...keys: string[]): Result<number, Context>;
    spoolPinDestination(
      sealedMeta: string,
      bucket: string,
      prefix: string,
    ): Result<[string, string] | null, Context>;
    spoolRepinDestination(
      sealedMeta: string,
      bucket: string,
      prefix: string,
      newBucket: string,
      newPrefix: string,
    ): Result<[string, string] | null, Context>;
    spoolReconcileSealed(
      pending: string,
      sealedBytes: string,
      sealedPrefix: string,
    ): Result<number[], Context>;
  }
}

/** Registers Spool's scripts on a client, once. */
export function defineSpoolCommands(redis: Redis | Cluster): void {
  for (const [name, definition] of Object.entries(COMMANDS)) {
    if (!(name in redis)) redis.defineCommand(name, definition);
  }
}

/** What one append is asked to store. */
export interface AppendRequest {
  /** Complete lines, each ending in "\n". */
  chunk: string | Buffer;
  eventCount: number;
  /** MAX_BUFFER_BYTES: active buffer plus sealed generations. */
  maxBytes: number;
  /** DEDUPE_WINDOW in ms; 0 stores every line. */
  dedupeWindowMs: number;
  /** The messageIds the client chose, and their lines: what dedupe checks. */
  clientIds: ClientMessageIds;
  /**
   * REDIS_MEMORY_RESERVE: refused while Redis's used memory plus the chunk would come within this
   * of its maxmemory (see append-6.lua). Bytes, or `{ percent }` of maxmemory; none when unset.
   */
  memoryReserve?: MemoryReserve;
}

/** The reserve as the append script takes it: "<bytes>", "<percent>%", or "" for none. */
function reserveArgument(reserve: MemoryReserve | undefined): string {
  if (reserve === undefined) return '';
  return 'percent' in reserve ? `${reserve.percent}%` : String(reserve.bytes);
}

/** The messageIds a client chose (generated ones need no dedupe), and the line of each. */
export interface ClientMessageIds {
  ids: string[];
  /** Line index (from 0) of each id, ascending. */
  lines: number[];
}

/** The ids' lines, as the script takes them: empty when they are lines 0, 1, 2, … in order (the usual case). */
function idLinesArgument({ lines }: ClientMessageIds): string {
  return lines.every((line, index) => line === index) ? '' : lines.join(',');
}

export type AppendResult =
  | {
      refused: false;
      length: number;
      gen: number;
      started: boolean;
      /** Bytes appended: the chunk less the duplicates left out. */
      appended: number;
      /** Line indexes (ascending) left out as duplicates of an accepted messageId. */
      duplicates: number[];
    }
  | { refused: true; held: number }
  /** Redis is within the memory reserve of its maxmemory: nothing was appended. */
  | { refused: 'memory'; usedMemory: number; maxMemory: number };

/** How many replicas must confirm an append (Redis WAIT) before it counts as stored, and how long to wait. */
export interface ReplicaAck {
  replicas: number;
  timeoutMs: number;
}

/**
 * REDIS_MIN_REPLICAS_ACK's wait, or undefined without it: half the command timeout, so that WAIT
 * answers (with a count) before the ingest's command would time out. The flusher has no command
 * timeout and REDIS_COMMAND_TIMEOUT is the ingest's alone, so a flusher's seal waits half the
 * default, 1.5 s.
 */
export function replicaAckOf(config: {
  minReplicasAck: number;
  redisCommandTimeoutMs: number;
}): ReplicaAck | undefined {
  if (config.minReplicasAck === 0) return undefined;
  return {
    replicas: config.minReplicasAck,
    timeoutMs: Math.max(1, Math.floor(config.redisCommandTimeoutMs / 2)),
  };
}

/** Fewer replicas than asked confirmed a write (an append, a registration, a seal) in time: it may stand, or be lost in a failover. */
export class ReplicaAckError extends Error {
  override name = 'ReplicaAckError';
  constructor(
    readonly confirmed: number,
    readonly wanted: number,
  ) {
    super(`${confirmed} of ${wanted} replicas confirmed the write in time`);
  }
}

/**
 * How long an append and its WAIT keep following redirections (MOVED, ASK, TRYAGAIN) before giving
 * up, in WAIT timeouts: a slot moves in steps (its keys one MIGRATE at a time), and a slot still
 * moving past this is a cluster in trouble.
 */
const REDIRECT_BUDGET_WAITS = 2;
/** As ioredis's retryDelayOnTryAgain. */
const TRYAGAIN_DELAY_MS = 100;

/**
 * Appends the request's lines to the stream's active buffer in one atomic step, leaving out those
 * whose messageId the stream accepted within the dedupe window; refuses when the stream's data
 * in Redis (active buffer plus sealed generations awaiting upload) would pass `maxBytes`,
 * answering with what it holds. O(1) in the buffer's size.
 *
 * With `ack`, the append and a WAIT go together to the server that holds the stream (one
 * pipeline, so a cluster sends both to the slot's master, on one connection), and the append
 * counts only once `ack.replicas` replicas hold it: otherwise ReplicaAckError.
 */
export async function appendToBuffer(
  redis: Redis | Cluster,
  keys: StreamKeys,
  request: AppendRequest,
  ack?: ReplicaAck,
): Promise<AppendResult> {
  const args: Parameters<Redis['spoolAppend']> = [
    keys.buf,
    keys.gen,
    keys.since,
    keys.stats,
    keys.sealedBytes,
    keys.seen,
    request.chunk,
    request.eventCount,
    request.maxBytes,
    request.dedupeWindowMs,
    idLinesArgument(request.clientIds),
    reserveArgument(request.memoryReserve),
    ...request.clientIds.ids,
  ];
  const reply =
    ack && ack.replicas > 0
      ? ((await scriptAndWait(redis, COMMANDS.spoolAppend, args, ack)) as number[])
      : await redis.spoolAppend(...args);
  const [length = 0, gen = 0, started = 0, appended = 0] = reply;
  if (length === -1) return { refused: true, held: gen };
  if (length === -2) return { refused: 'memory', usedMemory: gen, maxMemory: started };
  return { refused: false, length, gen, started: started === 1, appended, duplicates: reply.slice(4) };
}

type Script = (typeof COMMANDS)[keyof typeof COMMANDS];
const DIGESTS = new Map<Script, string>(
  Object.values(COMMANDS).map((script) => [script, createHash('sha1').update(script.lua).digest('hex')]),
);

/**
 * A script and its WAIT, in one pipeline: the WAIT counts the replicas that hold what the script
 * wrote, or ReplicaAckError. One pipeline, so a cluster sends both to the slot's master on one
 * connection. The script goes by its digest (EVALSHA), and by its text only after Redis answered
 * NOSCRIPT (its script cache emptied: a restart, SCRIPT FLUSH, a failover). Not through ioredis's
 * own command, which on NOSCRIPT sends the script again on its own, after the WAIT: the WAIT then
 * counted replicas for nothing, and the append was answered 202 unconfirmed.
 */
async function scriptAndWait(
  redis: Redis | Cluster,
  script: Script,
  args: Array<string | number | Buffer>,
  ack: ReplicaAck,
): Promise<unknown> {
  const digest = DIGESTS.get(script) as string;
  const giveUpAt = performance.now() + REDIRECT_BUDGET_WAITS * ack.timeoutMs;
  let sendText = false;
  // After ASK: the node the slot's keys are moving to, asked once (ASKING) for this pair.
  let asked: Redis | undefined;
  for (;;) {
    const pipeline = (asked ?? redis).pipeline();
    if (asked) pipeline.asking();
    asked = undefined;
    if (sendText) pipeline.eval(script.lua, script.numberOfKeys, ...args);
    else pipeline.evalsha(digest, script.numberOfKeys, ...args);
    const replies = (await pipeline.wait(ack.replicas, ack.timeoutMs).exec()) ?? [];
    const [[scriptError, reply] = [], [waitError, confirmed] = []] = replies.slice(-2);
    // NOSCRIPT: Redis ran nothing; the pair goes again, with the script's text.
    if (!sendText && scriptError?.message.startsWith('NOSCRIPT')) {
      sendText = true;
      continue;
    }
    // MOVED (the slot has moved), ASK (its keys are moving: these are on the target already) and
    // TRYAGAIN (some are, some not yet): Redis ran nothing. ioredis follows them for a lone
    // command but not for this pair (the WAIT went through), so they are here.
    const [redirected, , address] = scriptError?.message.split(' ') ?? [];
    if (
      (redirected === 'MOVED' || redirected === 'ASK' || redirected === 'TRYAGAIN') &&
      performance.now() < giveUpAt
    ) {
      asked = redirected === 'ASK' && redis instanceof Cluster ? clusterNodeAt(redis, address) : undefined;
      if (asked) continue;
      if (redirected !== 'TRYAGAIN' && redis instanceof Cluster) {
        await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
      } else {
        await new Promise((resolve) => setTimeout(resolve, TRYAGAIN_DELAY_MS));
      }
      continue;
    }
    if (scriptError) throw scriptError;
    if (waitError) throw waitError;
    if ((confirmed as number) < ack.replicas) throw new ReplicaAckError(confirmed as number, ack.replicas);
    return reply;
  }
}

/** True when an append that took the buffer to `length` (adding `added` bytes) crossed `threshold`. */
export function crossedThreshold(length: number, added: number, threshold: number): boolean {
  return length - added < threshold && length >= threshold;
}

export type SealResult =
  | {
      status: 'sealed' | 'resealed';
      length: number;
      since: number;
      /** The format to write the generation in: recorded at its seal. */
      format: OutputFormat;
    }
  | { status: 'nothing'; length: 0 };

/**
 * Seals generation `gen` of the stream: renames the active buffer to `sealed:<gen>` and starts
 * the next generation, atomically, recording the `format` to write it in. A retry finds its
 * earlier seal (`resealed`) and the format recorded then; a generation already uploaded or never
 * written gives `nothing`. With `ack` (REDIS_MIN_REPLICAS_ACK), ReplicaAckError unless that many
 * replicas hold the seal, and with it every event sealed and its dedupe entries: uploaded from the
 * master alone, a generation whose events a failover then lost from Redis (and their ids with
 * them) landed twice once their clients sent them again (a review's run). A failover after the
 * WAIT finds the same generation sealed, to upload under the same key.
 */
export async function sealGeneration(
  redis: Redis | Cluster,
  keys: StreamKeys,
  gen: number,
  format: OutputFormat = 'ndjson.gz',
  ack?: ReplicaAck,
): Promise<SealResult> {
  const args = [
    keys.buf,
    keys.gen,
    keys.since,
    keys.sealed(gen),
    keys.sealedMeta(gen),
    keys.pending,
    keys.sealedBytes,
    gen,
    format,
  ] as const;
  const [status, length, since, recorded] = ack
    ? ((await scriptAndWait(redis, COMMANDS.spoolSeal, [...args, '1'], ack)) as [
        number,
        number,
        number,
        string,
      ])
    : await redis.spoolSeal(...args);
  if (status === 0) return { status: 'nothing', length: 0 };
  const known = OUTPUT_FORMATS.find((name) => name === recorded);
  // Sealed by a version that writes a format this one cannot (a rolling upgrade): writing it in
  // another format would put a second object beside the first. The job retries; one of the
  // newer flushers takes it.
  if (!known)
    throw new Error(`generation ${gen} was sealed for format "${recorded}", which this flusher cannot write`);
  return { status: status === 1 ? 'sealed' : 'resealed', length, since, format: known };
}

/**
 * Releases generation `gen` after S3 confirmed its object (`object`: its key and manifest line;
 * none for a generation with no events): the sealed buffer goes, its events count as landed, and
 * its manifest line waits to be written, once. Returns false when an earlier attempt had already
 * released it.
 */
export async function releaseGeneration(
  redis: Redis | Cluster,
  keys: StreamKeys,
  gen: number,
  eventCount: number,
  object: { key: string; manifestLine: string } | undefined = undefined,
): Promise<boolean> {
  const released = await redis.spoolRelease(
    keys.sealed(gen),
    keys.sealedMeta(gen),
    keys.stats,
    keys.pending,
    keys.sealedBytes,
    keys.manifestPending,
    eventCount,
    gen,
    object?.key ?? '',
    object?.manifestLine ?? '',
  );
  return released === 1;
}

/**
 * Records `rejected` events refused at ingest on a stream that has stored events (or whose request
 * `stored` some, on any of its shards): counts them, and keeps `entries` (at most `maxKept` per
 * stream, the newest) in its quarantine (reject-4.lua), unless Redis is within `memoryReserve` of
 * its maxmemory (they are then counted dropped). Returns the stream's rejected count, or 0 when it
 * was not recorded.
 */
export async function recordRejected(
  redis: Redis | Cluster,
  keys: StreamKeys,
  rejected: { count: number; entries: string[]; stored: boolean },
  maxKept: number,
  memoryReserve?: MemoryReserve,
): Promise<number> {
  const { count, entries, stored } = rejected;
  return redis.spoolReject(
    keys.stats,
    keys.quarantine,
    keys.quarantineSince,
    keys.gen,
    count,
    maxKept,
    stored ? 1 : 0,
    reserveArgument(memoryReserve),
    ...entries,
  );
}

/** A stream's side files waiting for S3: its quarantine (a list), its manifest lines (a hash). */
export type SideFile = 'quarantine' | 'manifest';

/** The keys of a side file's pending entries, of those being written, and of their drain's id. */
export function sideFileKeys(keys: StreamKeys, kind: SideFile) {
  return kind === 'quarantine'
    ? { pending: keys.quarantine, draining: keys.quarantineDraining, drainingId: keys.quarantineDrainingId }
    : { pending: keys.manifestPending, draining: keys.manifestDraining, drainingId: keys.manifestDrainingId };
}

/**
 * Moves a stream's pending side-file entries out of service for writing to S3 (drain-4.lua): the
 * draining id (`<n>:<ms>`) that names what they are written to, an unfinished earlier drain's if
 * any, or undefined when nothing is pending.
 */
export async function startDrain(
  redis: Redis | Cluster,
  keys: StreamKeys,
  kind: SideFile,
): Promise<string | undefined> {
  const { pending, draining, drainingId } = sideFileKeys(keys, kind);
  return (await redis.spoolDrain(pending, draining, drainingId, keys.stats, `${kind}Drains`)) ?? undefined;
}

/**
 * Records that `stream` is in use (so the sweep visits it); resolves with Redis's time of it.
 * With `ack`, only once `ack.replicas` replicas hold it (else ReplicaAckError): on a cluster the
 * registry lives on another master than the stream's buffer, whose WAIT does not cover it, and a
 * registration lost in a failover would leave a one-off stream unflushed by time.
 */
export async function registerStream(
  redis: Redis | Cluster,
  registry: string,
  stream: string,
  ack?: ReplicaAck,
): Promise<number> {
  return ack && ack.replicas > 0
    ? ((await scriptAndWait(redis, COMMANDS.spoolRegisterStream, [registry, stream], ack)) as number)
    : redis.spoolRegisterStream(registry, stream);
}

/** Takes an idle stream out of the registry unless it was registered since `cutoffMs`. */
export async function forgetStream(
  redis: Redis | Cluster,
  registry: string,
  stream: string,
  cutoffMs: number,
): Promise<boolean> {
  return (await redis.spoolForgetStream(registry, stream, cutoffMs)) === 1;
}

/**
 * Deletes what a forgotten stream still keeps, unless it holds something again (see
 * purge-stream-9.lua); true when it did.
 */
export async function purgeStream(redis: Redis | Cluster, keys: StreamKeys): Promise<boolean> {
  const purged = await redis.spoolPurgeStream(
    keys.buf,
    keys.pending,
    keys.sealedBytes,
    keys.manifestPending,
    keys.manifestDrainingId,
    keys.quarantine,
    keys.quarantineDrainingId,
    keys.stats,
    keys.quarantineSince,
  );
  return purged === 1;
}

export interface SealedReconciliation {
  /** Bytes the sealed keys hold: the counter's value now. */
  sealedBytes: number;
  /** What the counter said before. */
  counted: number;
  /** Pending generations whose sealed key was gone. */
  forgotten: number;
}

/** A buffer unit's state as read: GET gen, GET since, STRLEN buf, SMEMBERS pending, GET sealed-bytes, HLEN manifest-pending, EXISTS manifest-draining-id, LLEN quarantine, EXISTS quarantine-draining-id... */
type UnitCounts = [
  gen: string | null,
  since: string | null,
  length: number,
  pending: string[],
  sealedBytes: string | null,
  manifestLines: number,
  manifestDraining: number,
  quarantined: number,
  quarantineDraining: number,
];
/** ...and HGETALL stats. */
export type UnitReads = [...UnitCounts, stats: Record<string, string>];

/**
 * A buffer unit's ten keys read in one script (read-unit-10.lua): on one Redis only (the
 * flusher's unit-state.ts says why not on a Cluster).
 */
export async function readUnit(redis: Redis, keys: StreamKeys): Promise<UnitReads> {
  const reads = await redis.spoolReadUnit(
    keys.gen,
    keys.since,
    keys.buf,
    keys.pending,
    keys.sealedBytes,
    keys.manifestPending,
    keys.manifestDrainingId,
    keys.quarantine,
    keys.quarantineDrainingId,
    keys.stats,
  );
  return [...(reads.slice(0, 9) as UnitCounts), fieldsOf(reads[9])];
}

/** HGETALL's answer inside a script, `[field, value, ...]`, as the object ioredis makes of it. */
function fieldsOf(flat: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let index = 0; index + 1 < flat.length; index += 2) {
    fields[flat[index] as string] = flat[index + 1] as string;
  }
  return fields;
}

/** Sets the stream's sealed-bytes counter from its sealed keys (see reconcile-sealed-3.lua). */
export async function reconcileSealed(
  redis: Redis | Cluster,
  keys: StreamKeys,
): Promise<SealedReconciliation> {
  const [sealedBytes = 0, counted = 0, forgotten = 0] = await redis.spoolReconcileSealed(
    keys.pending,
    keys.sealedBytes,
    keys.sealedPrefix,
  );
  return { sealedBytes, counted, forgotten };
}

/** Where a sealed generation's object goes (pin-destination-1.lua); undefined once it is released. */
export async function pinDestination(
  redis: Redis | Cluster,
  keys: StreamKeys,
  gen: number,
  s3: { bucket: string; prefix: string },
): Promise<{ bucket: string; prefix: string } | undefined> {
  const pinned = await redis.spoolPinDestination(keys.sealedMeta(gen), s3.bucket, s3.prefix);
  return pinned ? { bucket: pinned[0], prefix: pinned[1] } : undefined;
}

/**
 * Where a sealed generation's object goes once its pinned bucket, `from`, was found not to exist:
 * `to` (this attempt's settings), unless another flusher moved the pin meanwhile
 * (repin-destination-1.lua); undefined once it is released.
 */
export async function repinDestination(
  redis: Redis | Cluster,
  keys: StreamKeys,
  gen: number,
  from: { bucket: string; prefix: string },
  to: { bucket: string; prefix: string },
): Promise<{ bucket: string; prefix: string } | undefined> {
  const pinned = await redis.spoolRepinDestination(
    keys.sealedMeta(gen),
    from.bucket,
    from.prefix,
    to.bucket,
    to.prefix,
  );
  return pinned ? { bucket: pinned[0], prefix: pinned[1] } : undefined;
}

/** Milliseconds on Redis's clock: the one clock every process agrees on. */
export async function redisNow(redis: Redis | Cluster): Promise<number> {
  const [seconds = '0', micros = '0'] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}
