import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parseShardUnit, type RedisClient, streamKeys } from '@spool/shared';
import type { BufferSummary } from './buffer-summary.js';
import { listKeys } from './s3-keys.js';
import { drainSideFile } from './side-files.js';
import { putObjectConfirmed } from './upload.js';

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
  /** SHA-256 of the object's own bytes, as uploaded (absent from lines written before it was recorded). */
  objectSha256?: string;
  firstReceivedAt: string;
  lastReceivedAt: string;
}

export function manifestLine(
  key: string,
  object: { gen: number; shard: number; format: string; bytes: number; objectSha256: string },
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
    objectSha256: object.objectSha256,
    firstReceivedAt: summary.firstReceivedAt,
    lastReceivedAt: summary.lastReceivedAt,
  };
}

/**
 * A stream's day manifest is the parts in `{S3_PREFIX}_manifests/stream=<s>/dt=<YYYY-MM-DD>/`,
 * each one NDJSON file of lines sorted by key, written once and never rewritten: together, one
 * line per object of that `dt=` partition. Under `_manifests/`, so a reader's glob over
 * `stream=*` never takes them for events.
 */
export function manifestFolder(prefix: string, stream: string, day: string): string {
  return `${prefix}_manifests/stream=${stream}/dt=${day}/`;
}

/**
 * The part one drain of a buffer unit's lines writes for one day: `s<shard>-<n>-<ms>.ndjson`,
 * from the drain's id (drain-4.lua). Both halves: `n` counts in the stream's stats hash, which a
 * failover can lose (its count starts again), and a name from `n` alone would then overwrite a
 * part already written.
 */
export function manifestPartKey(
  prefix: string,
  stream: string,
  day: string,
  shard: number,
  drainingId: string,
) {
  return `${manifestFolder(prefix, stream, day)}s${shard}-${drainingId.replace(':', '-')}.ndjson`;
}

/** The `dt=` day of an object key. */
export function dayOfKey(key: string): string {
  return partitionOfKey(key).day;
}

/**
 * The S3 prefix and `dt=` day of an object key (`<prefix>stream=<stream>/dt=<day>/...`): where
 * its manifest line goes. The prefix is the object's own, which a generation keeps from its first
 * attempt (pin-destination-1.lua) whatever S3_PREFIX says now.
 */
export function partitionOfKey(key: string): { prefix: string; day: string } {
  const match = /^(.*)stream=[^/]*\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key);
  if (!match) throw new Error(`not a Spool object key: ${key}`);
  return { prefix: match[1] as string, day: match[2] as string };
}

/**
 * One line of a manifest part, or why it is none: the fields its readers go by (verify, replay)
 * are checked, so a damaged line is named where it is rather than failing later in S3's client.
 */
function manifestEntry(text: string): ManifestLine | string {
  let entry: unknown;
  try {
    entry = JSON.parse(text);
  } catch {
    return 'not a manifest line (not JSON)';
  }
  const line = entry as Partial<Record<keyof ManifestLine, unknown>>;
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    return 'not a manifest line (not an object)';
  for (const field of ['key', 'format', 'sha256'] as const) {
    if (typeof line[field] !== 'string' || line[field] === '') return `not a manifest line (no "${field}")`;
  }
  for (const field of ['events', 'bytes'] as const) {
    if (!Number.isSafeInteger(line[field]) || (line[field] as number) < 0) {
      return `not a manifest line ("${field}" is not a count)`;
    }
  }
  return entry as ManifestLine;
}

/** A manifest line, and the file name of the part that holds it. */
export interface PartLine {
  line: ManifestLine;
  part: string;
}

/**
 * A day's manifest: every line of all its parts (or of those whose file name `parts` takes), by
 * object key, in the order of the parts' names (a day without parts has none). An object may
 * have more than one line (its generation released again after a failover): `spool verify` reads
 * them all, since a line that lies in a part named before the true one's was never looked at (a
 * review's run).
 */
export async function readManifestLines(
  s3: S3Client,
  bucket: string,
  prefix: string,
  stream: string,
  day: string,
  parts: (name: string) => boolean = () => true,
): Promise<Map<string, PartLine[]>> {
  const lines = new Map<string, PartLine[]>();
  const folder = manifestFolder(prefix, stream, day);
  for await (const key of listKeys(s3, bucket, folder)) {
    const part = key.slice(folder.length);
    if (!parts(part)) continue;
    const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = (await answer.Body?.transformToString('utf8')) ?? '';
    for (const [index, line] of text.split('\n').entries()) {
      if (line === '') continue;
      const entry = manifestEntry(line);
      if (typeof entry === 'string') throw new Error(`s3://${bucket}/${key}, line ${index + 1}: ${entry}`);
      const earlier = lines.get(entry.key);
      if (earlier) earlier.push({ line: entry, part });
      else lines.set(entry.key, [{ line: entry, part }]);
    }
  }
  return lines;
}

/** A day's manifest by object key, each object's last line (readManifestLines). */
export async function readManifest(
  ...args: Parameters<typeof readManifestLines>
): Promise<Map<string, ManifestLine>> {
  const lines = await readManifestLines(...args);
  return new Map([...lines].map(([key, entries]) => [key, (entries.at(-1) as PartLine).line]));
}

/** Writes one manifest part: its lines sorted by object key, one JSON object a line. */
export async function writeManifestPart(s3: S3Client, bucket: string, key: string, lines: ManifestLine[]) {
  const body = [...lines]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((line) => `${JSON.stringify(line)}\n`)
    .join('');
  await putObjectConfirmed(s3, { Bucket: bucket, Key: key, Body: body, ContentType: 'application/x-ndjson' });
}

export interface ManifestDeps {
  redis: RedisClient;
  s3: S3Client;
  bucket: string;
  namespace: string;
}

/**
 * Writes the pending manifest lines of a buffer unit (released objects: release-6.lua keeps their
 * lines) as new parts of their days' manifests, one part per day per drain (side-files.ts: a
 * crash writes the same parts again, never a second set). A write costs its new lines only: no
 * manifest is read or rewritten, and no two writers (a stream's shards, two flushers) ever write
 * the same part. Returns the lines written.
 */
export async function writePendingManifests(
  deps: ManifestDeps,
  unit: string,
  stream: string,
): Promise<number> {
  const { redis, s3, bucket, namespace } = deps;
  const shard = parseShardUnit(unit)?.shard ?? 0;
  let written = 0;
  await drainSideFile<Record<string, string>>(
    redis,
    streamKeys(unit, namespace),
    'manifest',
    async (id, pending) => {
      // By the object's own prefix and day: a generation written before an S3_PREFIX change
      // keeps its prefix, and its line goes beside it (under the new prefix, verify found no
      // manifest for the object).
      const byPart = new Map<string, ManifestLine[]>();
      for (const [key, line] of Object.entries(pending)) {
        const { prefix, day } = partitionOfKey(key);
        const part = manifestPartKey(prefix, stream, day, shard, id);
        byPart.set(part, [...(byPart.get(part) ?? []), JSON.parse(line) as ManifestLine]);
      }
      for (const [part, lines] of byPart) {
        await writeManifestPart(s3, bucket, part, lines);
        written += lines.length;
      }
    },
  );
  return written;
}
