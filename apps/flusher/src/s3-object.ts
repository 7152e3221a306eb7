import type { BufferSummary } from './buffer-summary.js';

/**
 * The S3 key of a generation's object, Hive-partitioned so Athena, Spark, Trino and DuckDB read
 * the output as it is:
 *
 *   {S3_PREFIX}stream=<stream>/dt=<YYYY-MM-DD>/hour=<HH>/<stream>-<YYYYMMDDTHHmmssSSS>Z-<gen>.ndjson.gz
 *
 * (`.ndjson.zst` or `.parquet` for those formats of OUTPUT_FORMAT), and for shard n ≥ 1 of a sharded stream
 * (STREAM_SHARDS), in the same partitions:
 *
 *   …/<stream>-<YYYYMMDDTHHmmssSSS>Z-<gen>-s<n>.ndjson.gz
 *
 * Date, hour and timestamp come from the buffer's `since` (UTC), never from the flush time, so a
 * retry writes the same key: one object per generation however often the upload runs.
 */
export function objectKey(
  prefix: string,
  stream: string,
  sinceMs: number,
  gen: number,
  shard = 0,
  extension = 'ndjson.gz',
): string {
  const iso = new Date(sinceMs).toISOString(); // 2026-11-27T03:30:41.125Z
  const day = iso.slice(0, 10);
  const hour = iso.slice(11, 13);
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}${iso.slice(20, 23)}Z`;
  const name = shard === 0 ? `${stream}-${stamp}-${gen}` : `${stream}-${stamp}-${gen}-s${shard}`;
  return `${prefix}stream=${stream}/dt=${day}/hour=${hour}/${name}.${extension}`;
}

/**
 * The generation and shard an object's key names (objectKey's `…Z-<gen>[-s<shard>].<extension>`),
 * or undefined for a key not of that shape.
 */
export function generationOfKey(key: string): { gen: number; shard: number } | undefined {
  const named = /\d{8}T\d{9}Z-(\d+)(?:-s(\d+))?\.[a-z.]+$/.exec(key);
  return named ? { gen: Number(named[1]), shard: Number(named[2] ?? 0) } : undefined;
}

/** User metadata of a generation's object: enough to check it against what was accepted. */
export function objectMetadata(
  stream: string,
  gen: number,
  summary: BufferSummary,
  shard = 0,
): Record<string, string> {
  return {
    'spool-stream': stream,
    ...(shard === 0 ? {} : { 'spool-shard': String(shard) }),
    'spool-generation': String(gen),
    'spool-events': String(summary.events),
    'spool-raw-bytes': String(summary.rawBytes),
    'spool-sha256': summary.sha256,
    'spool-first-received-at': summary.firstReceivedAt,
    'spool-last-received-at': summary.lastReceivedAt,
  };
}
