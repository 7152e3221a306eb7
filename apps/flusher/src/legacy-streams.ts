import { legacyLastFlushErrorKey, legacyRegistryKeys, streamRegistryKey } from '@spool/shared';
import type { Cluster, Redis } from 'ioredis';
import { flushErrorRecordOf } from './status/flush-errors.js';

export interface Adoption {
  /** Streams moved into the registry. */
  moved: number;
  /** Old keys that could not be read (on a Cluster, a master away): their streams wait for it. */
  unread: { key: string; error: unknown }[];
}

/**
 * Moves into the registry the streams that earlier versions registered elsewhere (keys.ts): the
 * registry in a slot of its own (`<ns>:stream-registry`) and the plain set before it
 * (`<ns>:streams`). In a rolling upgrade the older ingests keep writing there, so every sweep
 * looks; once they are gone, both keys are empty, and an empty key costs one SCAN.
 *
 * Each stream is registered at `nowMs`, not at its old score (ZADD GT: a later registration
 * stands): an older ingest may register it again, before an append, between this read and the
 * removal, and that registration must not be lost to an old score that lets the sweep forget the
 * stream. A batch leaves the old key only once it is in the registry. Each old key is read on its
 * own: one on a master that is away does not stop the move of the other, nor the sweep.
 */
export async function adoptLegacyStreams(
  redis: Redis | Cluster,
  namespace: string,
  nowMs: number,
): Promise<Adoption> {
  const adoption: Adoption = { moved: 0, unread: [] };
  for (const source of legacyRegistries(redis, namespace)) {
    try {
      adoption.moved += await moveAll(redis, streamRegistryKey(namespace), source, nowMs);
    } catch (error) {
      adoption.unread.push({ key: source.key, error });
    }
  }
  return adoption;
}

/** A key where an earlier version registered streams. */
export interface OldKey {
  key: string;
  /** One page of stream names, and the cursor of the next. */
  scan(cursor: string): Promise<[string, string[]]>;
  remove(members: string[]): Promise<number>;
}

/** The keys where earlier versions registered streams (keys.ts), each read and emptied its own way. */
export function legacyRegistries(redis: Redis | Cluster, namespace: string): OldKey[] {
  const { registry, streams } = legacyRegistryKeys(namespace);
  return [
    {
      key: registry,
      // ZSCAN answers member, score, member, score, ...
      scan: async (cursor) => {
        const [next, page] = await redis.zscan(registry, cursor, 'COUNT', 500);
        return [next, page.filter((_, i) => i % 2 === 0)];
      },
      remove: (members) => redis.zrem(registry, ...members),
    },
    {
      key: streams,
      scan: (cursor) => redis.sscan(streams, cursor, 'COUNT', 500),
      remove: (members) => redis.srem(streams, ...members),
    },
  ];
}

async function moveAll(redis: Redis | Cluster, registry: string, source: OldKey, nowMs: number) {
  let moved = 0;
  let cursor = '0';
  do {
    const [next, members] = await source.scan(cursor);
    cursor = next;
    if (members.length === 0) continue;
    await redis.zadd(registry, 'GT', ...members.flatMap((stream) => [nowMs, stream]));
    await source.remove(members);
    moved += members.length;
  } while (cursor !== '0');
  return moved;
}

/**
 * Deletes the flush error older flushers recorded (keys.ts) once it was recorded before
 * `forgetBefore` (when the sweep forgets a quiet stream), or is no record: no older flusher has
 * failed since, and the key would outlive the upgrade. While one fails, the status reads it.
 */
export async function forgetLegacyFlushError(
  redis: Redis | Cluster,
  namespace: string,
  forgetBefore: number,
): Promise<void> {
  const key = legacyLastFlushErrorKey(namespace);
  const text = await redis.get(key);
  if (text === null) return;
  const record = flushErrorRecordOf(text);
  if (record === null || Date.parse(record.at) < forgetBefore) await redis.del(key);
}
