import { type RedisClient, readUnit, type StreamKeys, type UnitReads } from '@spool/shared';
import { Cluster, type Redis } from 'ioredis';

/** What the sweep and the status page read of a buffer unit (a stream, or a shard of one). */
export interface UnitState {
  gen: number;
  /** Redis ms of the active buffer's first append; null when it has none (or lost it). */
  since: number | null;
  /** The active buffer's bytes. */
  length: number;
  /** Sealed generations not yet released. */
  pending: string[];
  sealedBytes: number;
  /** Manifest lines waiting for S3, with one more while a drain is under way. */
  manifestPending: number;
  /** Refused events waiting for S3, with one more while a drain is under way. */
  quarantinePending: number;
  /** The stats hash: accepted, landed, rejected, lastObject... */
  stats: Record<string, string>;
}

/**
 * Reads a unit's keys: on one Redis in one script (read-unit-10.lua), one round trip where ten
 * cost a sweep over 10,000 streams 1.1 s of Redis's CPU and 1.5 s of the flusher's
 * (docs/benchmarks.md). On a Cluster, each key by a command of its own (sent together all the
 * same). Neither one pipeline: on a Cluster whose slot is half migrated, ioredis follows an ASK by
 * sending the whole pipeline to the slot's new owner, which answers nothing for the keys still on
 * the old one, and the stream read as empty (not flushed by time, left out of the metrics and the
 * status, and forgettable with its events buffered). Nor the script: while its slot moves, Redis
 * answers a script naming keys that exist and keys that do not (an empty quarantine) TRYAGAIN
 * until the move ends, and the stream would go unread for as long.
 */
export function readUnitState(redis: RedisClient, keys: StreamKeys): Promise<UnitState> {
  return redis instanceof Cluster ? readUnitByCommands(redis, keys) : readUnitByScript(redis, keys);
}

/** Each key by a command of its own (a Cluster's way; exported for the test that reads both ways). */
export async function readUnitByCommands(redis: RedisClient, keys: StreamKeys): Promise<UnitState> {
  return stateOf(
    await Promise.all([
      redis.get(keys.gen),
      redis.get(keys.since),
      redis.strlen(keys.buf),
      redis.smembers(keys.pending),
      redis.get(keys.sealedBytes),
      redis.hlen(keys.manifestPending),
      redis.exists(keys.manifestDrainingId),
      redis.llen(keys.quarantine),
      redis.exists(keys.quarantineDrainingId),
      redis.hgetall(keys.stats),
    ]),
  );
}

/** Every key in one script (one Redis's way). */
export async function readUnitByScript(redis: Redis, keys: StreamKeys): Promise<UnitState> {
  return stateOf(await readUnit(redis, keys));
}

function stateOf(reads: UnitReads): UnitState {
  const [
    gen,
    since,
    length,
    pending,
    sealedBytes,
    manifestLines,
    manifestDraining,
    quarantined,
    draining,
    stats,
  ] = reads;
  return {
    ...bufferState(gen, since, length, pending, sealedBytes),
    manifestPending: manifestLines + manifestDraining,
    quarantinePending: quarantined + draining,
    stats,
  };
}

/** The buffer's part of a unit's state, from the answers to GET gen, GET since, STRLEN buf, SMEMBERS pending and GET sealed-bytes. */
export function bufferState(
  gen: string | null,
  since: string | null,
  length: number,
  pending: string[],
  sealedBytes: string | null,
): Pick<UnitState, 'gen' | 'since' | 'length' | 'pending' | 'sealedBytes'> {
  return {
    gen: Number(gen ?? 0),
    since: since === null ? null : Number(since),
    length,
    pending,
    sealedBytes: Number(sealedBytes ?? 0),
  };
}
