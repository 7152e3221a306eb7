import { type RedisClient, registryRecoveryKey, streamRegistryKey } from '@spool/shared';

/**
 * How often, across all flushers, the sweep looks for buffer units the registry lacks. A look is
 * one SCAN of every master's keys: 0.8 s of Redis's CPU for 910,000 keys (100,000 units), 1.2 ×
 * a plain SCAN of them (`node bench/analysis/registry-scan-cost.mjs`): about 0.14 % of a core.
 */
export const REGISTRY_RECOVERY_EVERY_MS = 10 * 60_000;

/**
 * The keys of a unit that holds data for the sweep: an active buffer's `since`, its sealed
 * generations' `pending`, and manifest lines or quarantined events to write (or being written).
 * Each ends in "e" or "g", which lets one SCAN pattern ask for them all; no other key of a unit
 * does but these.
 */
const DATA_KEYS = new Set([
  'since',
  'pending',
  'manifest-pending',
  'manifest-draining',
  'quarantine',
  'quarantine-since',
  'quarantine-draining',
]);

/** Key names a SCAN page asks for: pages, not the keyspace, are what a call waits on. */
const SCAN_PAGE = 1_000;

/**
 * Registers, at most once every REGISTRY_RECOVERY_EVERY_MS across all flushers, the buffer units
 * that hold data (events buffered or sealed, manifest lines or quarantined events to write) and
 * are missing from the stream registry, and returns them. The ingest registers a stream again
 * only once a minute, or when an append starts a new buffer: a registry that lost a stream
 * mid-buffer (a failover of its master before its replica had the registration, a key deleted by
 * hand) left the events appended within that minute in Redis for good, never swept, and seen by
 * no gauge or alert (a review's run). A unit found is registered at `nowMs`, so the sweep visits it.
 */
export async function recoverRegistry(
  redis: RedisClient,
  namespace: string,
  nowMs: number,
): Promise<string[] | undefined> {
  const gate = registryRecoveryKey(namespace);
  if ((await redis.set(gate, String(nowMs), 'PX', REGISTRY_RECOVERY_EVERY_MS, 'NX')) === null)
    return undefined;
  try {
    return await registerUnitsWithData(redis, namespace, nowMs);
  } catch (error) {
    // Tried again at the next sweep, not in ten minutes.
    await redis.del(gate).catch(() => {});
    throw error;
  }
}

async function registerUnitsWithData(
  redis: RedisClient,
  namespace: string,
  nowMs: number,
): Promise<string[]> {
  const registry = streamRegistryKey(namespace);
  const recovered: string[] = [];
  const masters = 'nodes' in redis ? redis.nodes('master') : [redis];
  const prefix = `${namespace}:{`;
  for (const master of masters) {
    const scan = master.scanStream({ match: `${prefix}*}:*[eg]`, count: SCAN_PAGE });
    for await (const keys of scan as AsyncIterable<string[]>) {
      const units = new Set<string>();
      for (const key of keys) {
        const end = key.indexOf('}:', prefix.length);
        if (DATA_KEYS.has(key.slice(end + 2))) units.add(key.slice(prefix.length, end));
      }
      if (units.size === 0) continue;
      const found = [...units];
      const scores = await redis.zmscore(registry, ...found);
      const missing = found.filter((_, i) => scores[i] === null);
      if (missing.length === 0) continue;
      // NX: one an ingest registered meanwhile keeps its time (the sweep's forgetting goes by it).
      await redis.zadd(registry, 'NX', ...missing.flatMap((unit) => [nowMs, unit]));
      recovered.push(...missing);
    }
  }
  // Each unit once: one registered from a page is found in the registry by a later page.
  return recovered;
}
