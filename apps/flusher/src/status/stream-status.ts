import {
  type Config,
  type RedisClient,
  redisNow,
  streamKeys,
  streamRegistryKey,
  unitLimits,
} from '@spool/shared';
import { readUnitState } from '../unit-state.js';

/** One buffer unit (a stream, or one shard of a sharded stream: `web#2`) as the status shows it. */
export interface StreamStatus {
  stream: string;
  bufferBytes: number;
  /** Of the flush threshold and of MAX_BUFFER_BYTES (which counts sealed bytes too): 0 to 1 and up. */
  thresholdShare: number;
  maxShare: number;
  /** Since the first append into the active buffer; null when it is empty. */
  ageMs: number | null;
  generation: number;
  sealedGenerations: number;
  sealedBytes: number;
  /** Since the oldest sealed generation's first append; null when none waits. */
  oldestSealedAgeMs: number | null;
  accepted: number;
  landed: number;
  duplicates: number;
  /** Refused at ingest (bad JSON, too large, ...), counted once the stream has stored an event. */
  rejected: number;
  /** Refused events the quarantine let go (past QUARANTINE_MAX_EVENTS, the oldest first). */
  quarantineDropped: number;
  acceptedBytes: number;
  lastObject: { key: string; landedAt: string } | null;
  /** Older than twice FLUSH_INTERVAL (active or sealed): its flush is not keeping up. */
  stuck: boolean;
  /**
   * Landed more events than it accepted, which no flush does: its counters in Redis were lost
   * (a failover to a replica that lacked them, a deleted key). Its objects are counted by
   * `spool verify`; the counters only start again from what came after.
   */
  countersLost: boolean;
}

/**
 * Reads every registered unit's state: O(1) commands per unit (plus one per sealed generation
 * waiting), never anything that grows with a buffer's size (STRLEN, counters, a set's size).
 */
export async function readStreamStatuses(
  redis: RedisClient,
  config: Pick<
    Config,
    'namespace' | 'flushIntervalMs' | 'flushThresholdBytes' | 'maxBufferBytes' | 'streamShards'
  >,
): Promise<{ now: number; streams: StreamStatus[] }> {
  const now = await redisNow(redis);
  const streams: StreamStatus[] = [];
  let cursor = '0';
  do {
    const [next, page] = await redis.zscan(streamRegistryKey(config.namespace), cursor, 'COUNT', 500);
    cursor = next;
    const units = page.filter((_, i) => i % 2 === 0);
    streams.push(...(await Promise.all(units.map((unit) => readUnit(redis, config, unit, now)))));
  } while (cursor !== '0');
  return { now, streams };
}

/**
 * Whether a unit's counters were lost: no flush lands more than was accepted, so landed above
 * accepted means its stats hash went missing (a failover to a replica that lacked it, a deleted
 * key) and counts again from the appends after.
 */
export function countersWereLost(accepted: number, landed: number): boolean {
  return landed > accepted;
}

async function readUnit(
  redis: RedisClient,
  config: Parameters<typeof readStreamStatuses>[1],
  unit: string,
  now: number,
): Promise<StreamStatus> {
  const keys = streamKeys(unit, config.namespace);
  const { length, gen, since, pending, sealedBytes, stats } = await readUnitState(redis, keys);
  const oldestPending = pending.map(Number).sort((a, b) => a - b)[0];
  const sealedSince =
    oldestPending === undefined ? null : await redis.hget(keys.sealedMeta(oldestPending), 'since');
  const limits = unitLimits(config, unit);
  const ageMs = length > 0 && since !== null ? Math.max(0, now - since) : null;
  const oldestSealedAgeMs = sealedSince === null ? null : Math.max(0, now - Number(sealedSince));
  const late = 2 * config.flushIntervalMs;
  const accepted = Number(stats.accepted ?? 0);
  const landed = Number(stats.landed ?? 0);
  return {
    stream: unit,
    bufferBytes: length,
    thresholdShare: length / limits.flushThresholdBytes,
    maxShare: (length + sealedBytes) / limits.maxBufferBytes,
    ageMs,
    generation: gen,
    sealedGenerations: pending.length,
    sealedBytes,
    oldestSealedAgeMs,
    accepted,
    landed,
    duplicates: Number(stats.duplicates ?? 0),
    rejected: Number(stats.rejected ?? 0),
    quarantineDropped: Number(stats.quarantineDropped ?? 0),
    acceptedBytes: Number(stats.acceptedBytes ?? 0),
    lastObject:
      stats.lastObject && stats.lastLandedAt
        ? { key: stats.lastObject, landedAt: new Date(Number(stats.lastLandedAt)).toISOString() }
        : null,
    stuck: (ageMs ?? 0) > late || (oldestSealedAgeMs ?? 0) > late,
    countersLost: countersWereLost(accepted, landed),
  };
}
