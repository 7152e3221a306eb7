import { legacyStreamsKey, streamRegistryKey } from '@spool/shared';
import type { Cluster, Redis } from 'ioredis';

/**
 * Moves the streams that versions before the stream registry listed (a plain set,
 * `<ns>:streams`) into the registry, registered at `nowMs`. Each batch is removed from the old
 * set only once it is in the registry, so a stream an older ingest adds meanwhile (in a rolling
 * upgrade) stays for the next sweep; the empty set is gone by itself. Returns how many moved.
 */
export async function adoptLegacyStreams(
  redis: Redis | Cluster,
  namespace: string,
  nowMs: number,
): Promise<number> {
  const legacy = legacyStreamsKey(namespace);
  let moved = 0;
  let cursor = '0';
  do {
    const [next, streams] = await redis.sscan(legacy, cursor, 'COUNT', 500);
    cursor = next;
    if (streams.length === 0) continue;
    await redis.zadd(streamRegistryKey(namespace), 'NX', ...streams.flatMap((stream) => [nowMs, stream]));
    await redis.srem(legacy, ...streams);
    moved += streams.length;
  } while (cursor !== '0');
  return moved;
}
