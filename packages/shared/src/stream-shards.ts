import { forStream, type PerStream } from './per-stream.js';
import { STREAM_NAME_PATTERN } from './stream-name.js';

/**
 * A hot stream split over several sub-buffers ("shards", STREAM_SHARDS). Each shard is a buffer
 * unit of its own in the Redis protocol, named `<stream>#<shard>` (shard 0 is the stream's own
 * name, so an unsharded stream is unchanged): its own keys under its own hash tag (`{web#2}`, so
 * its own Cluster slot), its own generations, flush jobs and objects. An event's shard comes from
 * its messageId, so a retried event meets its first copy and dedupe holds.
 */

export const MAX_STREAM_SHARDS = 64;

/** `#` never occurs in a stream name, so a unit name cannot be mistaken for a stream. */
const SEPARATOR = '#';
const UNIT_PATTERN = new RegExp(`^(${STREAM_NAME_PATTERN.source.slice(1, -1)})(?:#([1-9][0-9]?))?$`);

/** How many shards each stream has (STREAM_SHARDS). */
export type StreamShards = PerStream<number>;

export function shardCount(shards: StreamShards, stream: string): number {
  return forStream(shards, stream);
}

/** The buffer unit of `shard` of `stream`: the stream's own name for shard 0. */
export function shardUnit(stream: string, shard: number): string {
  return shard === 0 ? stream : `${stream}${SEPARATOR}${shard}`;
}

/** A unit's stream and shard; undefined for a name that is neither a stream nor a shard of one. */
export function parseShardUnit(unit: string): { stream: string; shard: number } | undefined {
  const match = UNIT_PATTERN.exec(unit);
  if (!match) return undefined;
  const shard = match[2] === undefined ? 0 : Number(match[2]);
  return shard < MAX_STREAM_SHARDS ? { stream: match[1] as string, shard } : undefined;
}

/** The stream a unit belongs to (metrics, S3 partitions); the unit itself when it is not a shard. */
export function streamOfUnit(unit: string): string {
  return parseShardUnit(unit)?.stream ?? unit;
}

/**
 * The shard of an event with this messageId: FNV-1a (32 bits) over its UTF-16 code units, modulo
 * the shard count. Stable across processes and versions, since dedupe depends on it: a retry must
 * reach the shard that holds the first copy's id.
 */
export function shardOfMessageId(messageId: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < messageId.length; i++) {
    hash ^= messageId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

/**
 * What one shard of a stream of `shards` shards may hold: FLUSH_THRESHOLD_BYTES and
 * MAX_BUFFER_BYTES are the stream's, divided among its shards, so a sharded stream takes the same
 * Redis memory as before and flushes its shards at a share of the threshold each.
 */
export function shardLimits(
  limits: { flushThresholdBytes: number; maxBufferBytes: number },
  shards: number,
): { flushThresholdBytes: number; maxBufferBytes: number } {
  return {
    flushThresholdBytes: Math.ceil(limits.flushThresholdBytes / shards),
    maxBufferBytes: Math.floor(limits.maxBufferBytes / shards),
  };
}

/** A buffer unit's threshold and maximum: its stream's, or a shard's share of them. */
export function unitLimits(
  config: { flushThresholdBytes: number; maxBufferBytes: number; streamShards: StreamShards },
  unit: string,
): { flushThresholdBytes: number; maxBufferBytes: number } {
  const shards = shardCount(config.streamShards, streamOfUnit(unit));
  return shards === 1 ? config : shardLimits(config, shards);
}
