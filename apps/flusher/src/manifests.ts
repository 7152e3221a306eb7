import { randomUUID } from 'node:crypto';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type RedisClient, streamKeys } from '@spool/shared';
import type { BufferSummary } from './buffer-summary.js';

/** One object's line in its day's manifest. */
export interface ManifestLine {
  key: string;
  generation: number;
  shard: number;
  format: string;
  events: number;
  /** The object's size in S3. */
  bytes: number;
  rawBytes: number;
  /** SHA-256 of the uncompressed content (the object's `spool-sha256`). */
  sha256: string;
  firstReceivedAt: string;
  lastReceivedAt: string;
}

export function manifestLine(
  key: string,
  object: { gen: number; shard: number; format: string; bytes: number },
  summary: BufferSummary,
): ManifestLine {
  return {
    key,
    generation: object.gen,
    shard: object.shard,
    format: object.format,
    events: summary.events,
    bytes: object.bytes,
    rawBytes: summary.rawBytes,
    sha256: summary.sha256,
    firstReceivedAt: summary.firstReceivedAt,
    lastReceivedAt: summary.lastReceivedAt,
  };
}

/**
 * The manifest of a stream's day: `{S3_PREFIX}_manifests/stream=<s>/dt=<YYYY-MM-DD>.ndjson`, one
 * line per object of that `dt=` partition, sorted by key. Under `_manifests/`, so a reader's glob
 * over `stream=*` never takes it for events.
 */
export function manifestKey(prefix: string, stream: string, day: string): string {
  return `${prefix}_manifests/stream=${stream}/dt=${day}.ndjson`;
}

/** The `dt=` day of an object key. */
export function dayOfKey(key: string): string {
  const day = /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1];
  if (!day) throw new Error(`not a Spool object key: ${key}`);
  return day;
}

/** A manifest's lines by object key (an absent manifest has none). */
export async function readManifest(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<Map<string, ManifestLine>> {
  const lines = new Map<string, ManifestLine>();
  try {
    const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = (await answer.Body?.transformToString('utf8')) ?? '';
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const entry = JSON.parse(line) as ManifestLine;
      lines.set(entry.key, entry);
    }
  } catch (error) {
    if (!(error instanceof NoSuchKey)) throw error;
  }
  return lines;
}

/** Writes a day's manifest whole: its lines sorted by object key, one JSON object a line. */
export async function writeManifest(
  s3: S3Client,
  bucket: string,
  key: string,
  lines: Map<string, ManifestLine>,
): Promise<void> {
  const body = [...lines.values()]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((line) => `${JSON.stringify(line)}\n`)
    .join('');
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/x-ndjson' }),
  );
}

export interface ManifestDeps {
  redis: RedisClient;
  s3: S3Client;
  bucket: string;
  prefix: string;
  namespace: string;
}

const LOCK_MS = 60_000;

/**
 * Writes the pending manifest lines of a buffer unit (released objects: release-6.lua keeps their
 * lines) into their days' manifests: each day's manifest is read, merged with its new lines by
 * object key, and written whole; only then are those lines taken off the pending hash. Under the
 * stream's lock (one writer per stream, its shards included), so two writers never drop each
 * other's lines. Safe to repeat at any point: a crash leaves the lines pending, and the merge by
 * key writes each once. Returns the lines written, or undefined when another flusher holds the lock
 * (it, or the next sweep, writes them).
 */
export async function writePendingManifests(
  deps: ManifestDeps,
  unit: string,
  stream: string,
): Promise<number | undefined> {
  const { redis, s3, bucket, prefix, namespace } = deps;
  const unitKeys = streamKeys(unit, namespace);
  const lock = streamKeys(stream, namespace).manifestLock;
  const token = randomUUID();
  if ((await redis.set(lock, token, 'PX', LOCK_MS, 'NX')) !== 'OK') return undefined;
  // Held for as long as this writer works (a slow S3 must not let a second writer in), and gone
  // LOCK_MS after it dies.
  const renew = setInterval(() => {
    redis
      .eval(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
        1,
        lock,
        token,
        LOCK_MS,
      )
      .catch(() => {});
  }, LOCK_MS / 3);
  renew.unref();
  try {
    const pending = await redis.hgetall(unitKeys.manifestPending);
    const byDay = new Map<string, Array<[string, string]>>();
    for (const [key, line] of Object.entries(pending)) {
      const day = dayOfKey(key);
      byDay.set(day, [...(byDay.get(day) ?? []), [key, line]]);
    }
    let written = 0;
    for (const [day, lines] of byDay) {
      const key = manifestKey(prefix, stream, day);
      const manifest = await readManifest(s3, bucket, key);
      for (const [objectKey, line] of lines) manifest.set(objectKey, JSON.parse(line) as ManifestLine);
      await writeManifest(s3, bucket, key, manifest);
      // Only while the lock is still this writer's: one that lost it leaves its lines pending, for
      // the next writer to merge again. (Two commands: a shard's lines and its stream's lock are on
      // different Cluster slots; the renewal keeps the lock held between them.)
      if ((await redis.get(lock)) !== token) return written;
      await redis.hdel(unitKeys.manifestPending, ...lines.map(([objectKey]) => objectKey));
      written += lines.length;
    }
    return written;
  } finally {
    clearInterval(renew);
    await releaseLock(redis, lock, token);
  }
}

/** Deletes the lock only if it is still this writer's (it may have expired and been taken). */
async function releaseLock(redis: RedisClient, lock: string, token: string): Promise<void> {
  await redis.eval(
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
    1,
    lock,
    token,
  );
}
