import {
  type Config,
  pipelineValues,
  type RedisClient,
  redisNow,
  streamKeys,
  streamRegistryKey,
  unitLimits,
} from '@spool/shared';
import { Cluster, type Redis } from 'ioredis';
import { legacyRegistries } from '../legacy-streams.js';
import { bufferState, readUnitState, type UnitState } from '../unit-state.js';

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
  /** `maxShare` over NEARLY_FULL_SHARE: at 1 its writes are refused (503). */
  nearlyFull: boolean;
  /**
   * Landed more events than it accepted, which no flush does: its counters in Redis were lost
   * (a failover to a replica that lacked them, a deleted key). Its objects are counted by
   * `spool verify`; the counters only start again from what came after.
   */
  countersLost: boolean;
  /** What needs attention, in words (a colour alone says nothing to many readers): `ok`, `STUCK`, `NEARLY FULL` or both. */
  state: string;
}

type StatusConfig = Pick<
  Config,
  'namespace' | 'flushIntervalMs' | 'flushThresholdBytes' | 'maxBufferBytes' | 'streamShards'
>;

/** What the status reads of a unit: its state (less the side files' counts) and its oldest sealed generation's start. */
type UnitReading = Pick<UnitState, 'gen' | 'since' | 'length' | 'pending' | 'sealedBytes' | 'stats'> & {
  oldestSealedSince: number | null;
};

/**
 * The share of MAX_BUFFER_BYTES past which a unit is nearly full: the SpoolBufferNearlyFull alert's
 * (deploy/observability/prometheus/alerts.yml, held equal by a test), so the page, `spool status`
 * and the alert agree on which streams need attention.
 */
export const NEARLY_FULL_SHARE = 0.8;

/** What needs attention in a unit, in words (StreamStatus.state). */
export function stateOf(unit: Pick<StreamStatus, 'stuck' | 'nearlyFull'>): string {
  return [unit.stuck && 'STUCK', unit.nearlyFull && 'NEARLY FULL'].filter(Boolean).join(', ') || 'ok';
}

/** Units read together: one registry page, and on one Redis one pipeline. */
const PAGE_SIZE = 500;

/**
 * Reads every registered unit's state, a registry page at a time, each page with the time of the
 * reading (Redis's clock). O(1) commands per unit (and one more per unit with a sealed generation
 * waiting), never anything that grows with a buffer's size (STRLEN, counters, a set's size).
 */
export async function* streamStatusPages(
  redis: RedisClient,
  config: StatusConfig,
): AsyncGenerator<{ now: number; streams: StreamStatus[] }> {
  const now = await redisNow(redis);
  const page = async (units: readonly string[]) => {
    const readings =
      redis instanceof Cluster
        ? await readUnitByUnit(redis, units, config.namespace)
        : await readPipelined(redis, units, config.namespace);
    return {
      now,
      streams: units.map((unit, i) => toStreamStatus(unit, readings[i] as UnitReading, config, now)),
    };
  };
  const registry = streamRegistryKey(config.namespace);
  let cursor = '0';
  do {
    const [next, members] = await redis.zscan(registry, cursor, 'COUNT', PAGE_SIZE);
    cursor = next;
    yield await page(members.filter((_, i) => i % 2 === 0));
  } while (cursor !== '0');
  // In a rolling upgrade, the streams older ingests registered where they did, until a sweep of
  // this version moves them (legacy-streams.ts): `spool status --redis` beside older flushers
  // said "0 streams" while they buffered (a review's run). Each once, and not if moved meanwhile.
  const seen = new Set<string>();
  for await (const members of legacyRegistryPages(redis, config.namespace)) {
    const scores = await redis.zmscore(registry, ...members);
    const units = members.filter((unit, i) => scores[i] === null && !seen.has(unit));
    for (const unit of units) seen.add(unit);
    if (units.length > 0) yield await page(units);
  }
}

/**
 * The stream names of the registries earlier versions kept (keys.ts), a page at a time; empty
 * pages left out. A key that cannot be read (on a Cluster, its slot's master away) is passed
 * over, as the sweep passes it over: it made every reading of the status fail, with no older
 * version running (a review's run).
 */
async function* legacyRegistryPages(redis: RedisClient, namespace: string): AsyncGenerator<string[]> {
  for (const { scan } of legacyRegistries(redis, namespace)) {
    let cursor = '0';
    do {
      let names: string[];
      try {
        [cursor, names] = await scan(cursor);
      } catch {
        break;
      }
      if (names.length > 0) yield names;
    } while (cursor !== '0');
  }
}

/**
 * On one Redis, a page's commands go in one pipeline: a command each costs the flusher and Redis
 * a write and a read of their own: some 6 times Redis's CPU and twice the flusher's for a
 * page (`node bench/analysis/status-reading.mjs`, docs/operations.md).
 */
async function readPipelined(
  redis: Redis,
  units: readonly string[],
  namespace: string,
): Promise<UnitReading[]> {
  const pipeline = redis.pipeline();
  for (const unit of units) {
    const keys = streamKeys(unit, namespace);
    pipeline
      .get(keys.gen)
      .get(keys.since)
      .strlen(keys.buf)
      .smembers(keys.pending)
      .get(keys.sealedBytes)
      .hgetall(keys.stats);
  }
  const answers = pipelineValues(await pipeline.exec());
  const readings = units.map((_, i): UnitReading => {
    const [gen, since, length, pending, sealedBytes, stats] = answers.slice(i * 6, i * 6 + 6) as [
      string | null,
      string | null,
      number,
      string[],
      string | null,
      Record<string, string>,
    ];
    return { ...bufferState(gen, since, length, pending, sealedBytes), stats, oldestSealedSince: null };
  });
  const sealed = units.flatMap((unit, i) => {
    const oldest = oldestGeneration((readings[i] as UnitReading).pending);
    return oldest === undefined
      ? []
      : [{ reading: readings[i] as UnitReading, meta: streamKeys(unit, namespace).sealedMeta(oldest) }];
  });
  if (sealed.length > 0) {
    const metas = redis.pipeline();
    for (const { meta } of sealed) metas.hget(meta, 'since');
    pipelineValues(await metas.exec()).forEach((since, i) => {
      (sealed[i] as (typeof sealed)[number]).reading.oldestSealedSince =
        since === null ? null : Number(since);
    });
  }
  return readings;
}

/**
 * On a Cluster, each unit by commands of its own (readUnitState says why not a pipeline: a slot on
 * the move would read as empty).
 */
async function readUnitByUnit(
  redis: Cluster,
  units: readonly string[],
  namespace: string,
): Promise<UnitReading[]> {
  return Promise.all(
    units.map(async (unit) => {
      const keys = streamKeys(unit, namespace);
      const state = await readUnitState(redis, keys);
      const oldest = oldestGeneration(state.pending);
      const since = oldest === undefined ? null : await redis.hget(keys.sealedMeta(oldest), 'since');
      return { ...state, oldestSealedSince: since === null ? null : Number(since) };
    }),
  );
}

function oldestGeneration(pending: readonly string[]): number | undefined {
  return pending.map(Number).sort((a, b) => a - b)[0];
}

/**
 * Whether a unit's counters were lost: no flush lands more than was accepted, so landed above
 * accepted means its stats hash went missing (a failover to a replica that lacked it, a deleted
 * key) and counts again from the appends after. The sweep then records it in the hash
 * (`countersLost`): once accepted counts events still in flight past those lost, the two no
 * longer show it, and the counters stay wrong.
 */
export function countersLostFor(stats: Record<string, string>): boolean {
  return stats.countersLost !== undefined || Number(stats.landed ?? 0) > Number(stats.accepted ?? 0);
}

function toStreamStatus(unit: string, reading: UnitReading, config: StatusConfig, now: number): StreamStatus {
  const { length, gen, since, pending, sealedBytes, stats, oldestSealedSince } = reading;
  const limits = unitLimits(config, unit);
  const ageMs = length > 0 && since !== null ? Math.max(0, now - since) : null;
  const oldestSealedAgeMs = oldestSealedSince === null ? null : Math.max(0, now - oldestSealedSince);
  const late = 2 * config.flushIntervalMs;
  const accepted = Number(stats.accepted ?? 0);
  const landed = Number(stats.landed ?? 0);
  const maxShare = (length + sealedBytes) / limits.maxBufferBytes;
  const stuck = (ageMs ?? 0) > late || (oldestSealedAgeMs ?? 0) > late;
  const nearlyFull = maxShare > NEARLY_FULL_SHARE;
  return {
    stream: unit,
    bufferBytes: length,
    thresholdShare: length / limits.flushThresholdBytes,
    maxShare,
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
    stuck,
    nearlyFull,
    countersLost: countersLostFor(stats),
    state: stateOf({ stuck, nearlyFull }),
  };
}
