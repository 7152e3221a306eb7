import type { RedisClient, StreamKeys } from '@spool/shared';

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
 * Reads a unit's keys, each by a command of its own (sent together all the same), not one
 * pipeline: on a Cluster whose slot is half migrated, ioredis follows an ASK by sending the whole
 * pipeline to the slot's new owner, which answers nothing for the keys still on the old one. The
 * stream read as empty: it was not flushed by time, left out of the metrics and the status, and
 * could be forgotten with its events buffered.
 */
export async function readUnitState(redis: RedisClient, keys: StreamKeys): Promise<UnitState> {
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
  ] = await Promise.all([
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
  ]);
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
