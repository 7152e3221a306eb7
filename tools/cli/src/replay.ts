import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { pipeline, type Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, NotFound, type S3Client } from '@aws-sdk/client-s3';
import {
  type ManifestLine,
  manifestFolder,
  readManifest,
  readManifestLines,
  writeManifestPart,
} from '@spool/flusher/dist/manifests.js';
import { encodeChunks, FORMAT_WRITERS, formatOfKey } from '@spool/flusher/dist/output-formats.js';
import { listKeys } from '@spool/flusher/dist/s3-keys.js';
import { generationOfKey } from '@spool/flusher/dist/s3-object.js';
import { abortStaleUploads } from '@spool/flusher/dist/stale-uploads.js';
import { uploadBody } from '@spool/flusher/dist/upload.js';
import type { OutputFormat } from '@spool/shared';
import type { Logger } from 'pino';
import { ndjsonDecompressor, newlines } from './ndjson-content.js';

export interface ReplayOptions {
  s3: S3Client;
  bucket: string;
  /** Where the objects are (S3_PREFIX). */
  fromPrefix: string;
  /** Where their copies go. */
  toPrefix: string;
  stream: string;
  /** YYYY-MM-DD, both included: the `dt=` partitions replayed. */
  fromDay: string;
  toDay: string;
  format: OutputFormat;
  partBytes: number;
  /** Called after each object: what is done so far. */
  progress?: (done: ReplayProgress) => void;
  /** Where a Parquet copy's fallbacks are told (a generation written with JSON columns). */
  logger: Pick<Logger, 'warn'>;
  signal?: AbortSignal;
  /** The most copies' lines in one manifest part (MANIFEST_LINES_PER_PART). */
  manifestLinesPerPart?: number;
}

export interface ReplayProgress {
  objects: number;
  of: number;
  written: number;
  /** Already there from an earlier run: same source, same format. */
  skipped: number;
  /**
   * Objects in range that Spool did not write (outside the `hour=` folders, or without its
   * metadata): not copied. Their copies' manifest lines would have no content hash, and every
   * later run and verify of the target day stopped at them.
   */
  leftOut: { key: string; why: string }[];
  key: string;
}

/**
 * The stream's objects of the days from `fromDay` to `toDay` (both included), in key order (so day
 * by day): one listing from the first day on, stopped past the last, whatever the range (a range
 * of years costs what its objects do, not a request a day).
 */
async function* objectsInRange(
  options: ReplayOptions,
): AsyncGenerator<{ key: string; day: string; inHourFolder: boolean }> {
  const { s3, bucket, fromPrefix, stream, fromDay, toDay, signal } = options;
  const days = `${fromPrefix}stream=${stream}/dt=`;
  for await (const key of listKeys(s3, bucket, days, `${days}${fromDay}`)) {
    if (signal?.aborted) return;
    const day = key.slice(days.length, days.length + 10);
    if (day > toDay) return;
    // `dt=<day>/` only: a folder whose name merely starts with a day is not a partition.
    if (key[days.length + 10] === '/' && /^\d{4}-\d{2}-\d{2}$/.test(day)) {
      yield { key, day, inHourFolder: HOUR_FOLDER.test(key.slice(days.length + 11)) };
    }
  }
}

/** The `dt=` days in range that have a manifest: a day whose objects are all gone has one still. */
async function manifestDaysInRange(options: ReplayOptions): Promise<string[]> {
  const { s3, bucket, fromPrefix, stream, fromDay, toDay } = options;
  const folder = manifestFolder(fromPrefix, stream, fromDay).slice(0, -`${fromDay}/`.length);
  const days = new Set<string>();
  for await (const key of listKeys(s3, bucket, folder, `${folder}${fromDay}`)) {
    const day = key.slice(folder.length, folder.length + 10);
    if (day > toDay) break;
    if (key[folder.length + 10] === '/' && /^\d{4}-\d{2}-\d{2}$/.test(day)) days.add(day);
  }
  return [...days];
}

/** Where the flusher writes a day's objects: `hour=<HH>/<name>`, no deeper. */
const HOUR_FOLDER = /^hour=\d{2}\/[^/]+$/;

/**
 * Why `toPrefix` puts the copies where replay, or a reader, takes them for landed objects or side
 * files (inside the source's stream partitions, `<S3_PREFIX>stream=…`, or its `_` folders), else
 * undefined. A run there copied its own copies on the next run, and the source gained objects its
 * manifests do not know.
 */
export function targetInsideSource(fromPrefix: string, toPrefix: string): string | undefined {
  if (!toPrefix.startsWith(fromPrefix)) return undefined;
  const rest = toPrefix.slice(fromPrefix.length);
  return rest === '' || rest.startsWith('stream=') || rest.startsWith('_')
    ? `"${toPrefix}" is S3_PREFIX or inside its stream partitions or side files; replay writes copies elsewhere`
    : undefined;
}

/**
 * An S3 key as a metadata value: HTTP headers carry visible ASCII only, and S3 allows any UTF-8 in
 * a key (a prefix in another script, a control character). What is not visible ASCII, and `%`
 * itself, is percent-encoded; a key of visible ASCII without `%` (every key the flusher writes
 * under an ASCII prefix) is unchanged, as copies of earlier versions recorded it.
 */
export function keyAsMetadata(key: string): string {
  return key.replace(/[^\x20-\x7e]|%/gu, (c) => encodeURIComponent(c));
}

/**
 * Rewrites a stream's landed objects, day by day, in another format and/or under another prefix.
 * An object already in the target format is copied as it is; an NDJSON object is re-encoded; a
 * Parquet one has no other target (it does not give back the exact lines it was written from:
 * times normalized, numbers typed), so a range that holds one is refused unless the target is
 * Parquet, before anything is written. Every copy is checked in the read it is made from: an
 * NDJSON object's content against its spool-sha256, a Parquet object's bytes against the SHA-256
 * its day's manifest records (one without that line is left out). Each copy's key is its source's, with the target prefix
 * and the format's extension: so a second run, or a run resumed after a kill, finds each copy
 * already written (its `spool-replayed-from` and `spool-sha256` match) and skips it; a copy cut
 * off mid-upload left only a multipart upload, which the next run aborts before writing the copy
 * again. Content is streamed (copied, or decompressed and encoded again, as it comes, uploaded in
 * parts), never held whole. Each target day gets its manifest, lines keyed by object as the
 * flusher writes them.
 */
export async function replay(options: ReplayOptions): Promise<ReplayProgress> {
  const { fromPrefix, toPrefix, format, signal } = options;
  const inside = targetInsideSource(fromPrefix, toPrefix);
  if (inside) throw new Error(`--to-prefix: ${inside}`);
  // Each day's manifest, read before the objects are listed: a line is written after its object,
  // so an object whose line was read is listed unless it is gone. Read after the listing, the lines
  // of objects landed meanwhile named them gone (a review's run on a day being written).
  // Every line of each object: one uploaded again (a failover lost its release) has a line for
  // each upload, and the part listed last need not be the last written (parts' names count from
  // 0 again when a failover loses their count).
  const sourceManifests = new Map<string, Map<string, ManifestLine[]>>();
  const readDay = async (day: string) => {
    const lines = await readManifestLines(options.s3, options.bucket, fromPrefix, options.stream, day);
    sourceManifests.set(day, new Map([...lines].map(([key, parts]) => [key, parts.map(({ line }) => line)])));
  };
  for (const day of await manifestDaysInRange(options)) await readDay(day);
  const found: Source[] = [];
  const leftOut: ReplayProgress['leftOut'] = [];
  for await (const { key, day, inHourFolder } of objectsInRange(options)) {
    const sourceFormat = formatOfKey(key);
    if (!sourceFormat) leftOut.push({ key, why: 'not a Spool object: its name ends in none of the formats' });
    else if (inHourFolder)
      found.push({ key, day, format: sourceFormat, target: targetKey(options, key, sourceFormat) });
    else leftOut.push({ key, why: 'outside the hour= folders the flusher writes' });
  }
  // Stopped while listing: what was not listed yet is not known gone (every object its manifest
  // lists and the listing had not reached was said "not in S3").
  if (signal?.aborted) return { objects: 0, of: 0, written: 0, skipped: 0, leftOut: [], key: '' };
  // An object a manifest lists that is gone is said (a copy without it verified clean: a review's run).
  const listed = new Set([...found.map((source) => source.key), ...leftOut.map((left) => left.key)]);
  for (const manifest of sourceManifests.values()) {
    for (const key of manifest.keys()) {
      if (!listed.has(key)) leftOut.push({ key, why: MISSING_FROM_S3 });
    }
  }
  // A day whose first manifest part came after that read: its lines, to check its objects by.
  for (const day of new Set(found.map((source) => source.day))) {
    if (!sourceManifests.has(day)) await readDay(day);
  }
  const sources = onePerTarget(found, format);
  const parquet = sources.filter((source) => source.format === 'parquet').length;
  if (parquet > 0 && format !== 'parquet') {
    throw new Error(
      `${parquet} object(s) in range are Parquet, which replays only as Parquet (copied as it is): a Parquet object does not give back the lines it was written from. Replay them with --format parquet`,
    );
  }
  const done: ReplayProgress = { objects: 0, of: sources.length, written: 0, skipped: 0, leftOut, key: '' };
  const byDay = new Map<string, Source[]>();
  for (const source of sources) {
    const day = byDay.get(source.day);
    if (day) day.push(source);
    else byDay.set(source.day, [source]);
  }
  for (const [day, daySources] of byDay) {
    const live = await landedThere(options, day, daySources);
    if (live) throw new Error(live);
  }
  for (const [day, daySources] of byDay) {
    if (signal?.aborted) break;
    const lines: ManifestLine[] = [];
    const targetManifest = await readManifest(options.s3, options.bucket, toPrefix, options.stream, day);
    const writeLines = dayManifestWriter(options, day, targetManifest);
    const sourceManifest = sourceManifests.get(day) ?? new Map<string, ManifestLine[]>();
    try {
      for (const source of daySources) {
        if (signal?.aborted) break;
        const said = {
          source: sourceManifest.get(source.key) ?? [],
          dayHasManifest: sourceManifest.size > 0,
          copy: targetManifest.get(source.target),
        };
        const copied = await copyOnce(options, source, said).catch((error: unknown) => {
          throw new Error(`${source.key}: ${(error as Error).message}`, { cause: error });
        });
        if ('leftOut' in copied) {
          // No longer one of the objects to replay, as one outside the hour= folders never was.
          done.leftOut.push({ key: source.key, why: copied.leftOut });
          done.of -= 1;
          continue;
        }
        if (copied.written) done.written += 1;
        else done.skipped += 1;
        lines.push(copied.line);
        // Written as they come on a long day: a run killed near its end otherwise left every copy
        // of the day without its line, and the next run downloaded each again to hash it.
        if (lines.length >= (options.manifestLinesPerPart ?? MANIFEST_LINES_PER_PART)) {
          await writeLines(lines.splice(0));
        }
        done.objects += 1;
        done.key = source.target;
        options.progress?.({ ...done });
      }
    } catch (error) {
      // The copies written before the failure get their lines too; the failure is what is said.
      if (lines.length > 0) {
        await writeLines(lines).catch((manifestError: unknown) => {
          throw new Error(
            `${(error as Error).message}; and this day's manifest of the copies written before it: ${(manifestError as Error).message}`,
            { cause: error },
          );
        });
      }
      throw error;
    }
    // The day's manifest as soon as its copies are written (and for those written before a stop):
    // no copy is left without its line.
    if (lines.length > 0) await writeLines(lines);
  }
  return done;
}

/** A day's copies whose lines replay writes as one manifest part, at most (and once the day is done). */
const MANIFEST_LINES_PER_PART = 1_000;

/** Whether a manifest part's file name is one replay writes (`replayed-…`, or an earlier version's `replay.ndjson`). */
const isReplayPart = (name: string) => name.startsWith('replay');

/**
 * A target day's manifest part written by replay: `replayed-<time>-<digest>.ndjson`, once and never
 * rewritten, as the flusher's parts are. A run that rewrote one part (`replay.ndjson`, as earlier
 * versions did) lost the lines another run wrote to it meanwhile: two replays into one prefix
 * both exited 0, and the target failed verify. The time orders a later run's part after an
 * earlier's, and after `replay.ndjson` ("replaye" sorts after "replay."): readManifest takes a
 * key's last line. The digest of its content keeps two runs' parts apart within a millisecond.
 */
function replayPartName(lines: ManifestLine[]): string {
  const time = new Date().toISOString().replace(/[-:.]/g, '');
  const digest = createHash('sha256').update(JSON.stringify(lines)).digest('hex').slice(0, 16);
  return `replayed-${time}-${digest}.ndjson`;
}

/**
 * What adds the lines of copies replay wrote to a target day's manifest: those its parts do not
 * hold yet (or hold otherwise), in a part of their own. The manifest is read once, before the
 * day's first copy, and kept as lines are added (a long day's writes every MANIFEST_LINES_PER_PART
 * copies would each have read it whole again). A run that finds every copy there writes nothing
 * (each write is a new object, a new version a day on a versioned bucket).
 */
function dayManifestWriter(
  options: ReplayOptions,
  day: string,
  /** The target day's manifest as read before its first copy (kept up to date here). */
  manifest: Map<string, ManifestLine>,
): (lines: ManifestLine[]) => Promise<void> {
  const { s3, bucket, toPrefix, stream } = options;
  return async (lines) => {
    const added: ManifestLine[] = [];
    for (const line of lines) {
      const earlier = manifest.get(line.key);
      // A copy an earlier run wrote keeps its line's objectSha256 (the writing run hashed it on
      // the way up). A run killed after writing a copy, before its line, left it none: its bytes
      // are hashed now, or verify --deep could not tell them changed.
      const objectSha256 =
        line.objectSha256 ?? earlier?.objectSha256 ?? (await objectSha256Of(s3, bucket, line.key));
      const merged = { ...earlier, ...line, objectSha256 };
      if (earlier === undefined || JSON.stringify(merged) !== JSON.stringify(earlier)) added.push(merged);
    }
    if (added.length === 0) return;
    await writeManifestPart(
      s3,
      bucket,
      `${manifestFolder(toPrefix, stream, day)}${replayPartName(added)}`,
      added,
    );
    for (const line of added) manifest.set(line.key, line);
  };
}

/** A Spool object's key without its format's extension: its generation, whatever the format. */
function generationOf(key: string): string {
  const format = formatOfKey(key);
  return format ? key.slice(0, key.length - FORMAT_WRITERS[format].extension.length) : key;
}

/**
 * Why the target day may not take these copies, else undefined: a flusher landed one of their
 * generations there (a line in a manifest part replay did not write names it, in any format), so
 * `--to-prefix` is where the generation already is: the live prefix, replayed back into. Copies
 * there sat beside (or over) the objects they were made from: readers counted each event twice,
 * and verify, the copies' lines merged into the flusher's, passed. A target where a flusher lands
 * other generations of the stream (S3_PREFIX changed in the middle of a day) takes them.
 */
async function landedThere(
  options: ReplayOptions,
  day: string,
  sources: Source[],
): Promise<string | undefined> {
  const { s3, bucket, toPrefix, stream } = options;
  const flushers = await readManifest(s3, bucket, toPrefix, stream, day, (part) => !isReplayPart(part));
  const copies = new Set(sources.map((source) => generationOf(source.target)));
  for (const landed of flushers.keys()) {
    if (copies.has(generationOf(landed))) {
      return `--to-prefix: ${toPrefix} already holds ${landed}, landed there by a flusher (its manifest, ${manifestFolder(toPrefix, stream, day)}, says so); its copy beside it would count its events twice. Replay writes copies elsewhere`;
    }
  }
  return undefined;
}

/** The SHA-256 of an object's bytes, streamed. */
async function objectSha256Of(s3: S3Client, bucket: string, key: string): Promise<string> {
  const body = (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body as Readable;
  const hash = createHash('sha256');
  for await (const chunk of body) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

interface Source {
  key: string;
  /** Its `dt=` partition. */
  day: string;
  format: OutputFormat;
  /** Where its copy goes. */
  target: string;
}

/** A copy's key: its source's, under the target prefix, with the target format's extension. */
function targetKey(options: ReplayOptions, key: string, sourceFormat: OutputFormat): string {
  const relative = key.slice(options.fromPrefix.length, -FORMAT_WRITERS[sourceFormat].extension.length);
  return `${options.toPrefix}${relative}${FORMAT_WRITERS[options.format].extension}`;
}

/**
 * One source per copy. A prefix may hold one generation in two formats (replay wrote it there
 * twice, in two formats): both would write the same copy, each run would write it again, and
 * which content won would depend on order. The one already in the target format is taken (copied
 * as it is), else one that can be re-encoded (NDJSON), else the first.
 */
function onePerTarget(found: readonly Source[], format: OutputFormat): Source[] {
  const rank = (source: Source) => (source.format === format ? 0 : source.format !== 'parquet' ? 1 : 2);
  const chosen = new Map<string, Source>();
  for (const source of found) {
    const held = chosen.get(source.target);
    if (!held || rank(source) < rank(held)) chosen.set(source.target, source);
  }
  return [...chosen.values()];
}

/** What the manifests say of one copy: its source's lines, and the copy's own (an earlier run's). */
interface ManifestSays {
  /** Each of the source's lines (one an upload of it); none where its day's manifest lacks it. */
  source: readonly ManifestLine[];
  /** Whether the source's day has any line: a day's objects from before manifests have none. */
  dayHasManifest: boolean;
  copy: ManifestLine | undefined;
}

/**
 * Writes one copy unless an earlier run did; returns its manifest line either way, or why the
 * source is left out.
 */
async function copyOnce(
  options: ReplayOptions,
  { key: source, format: sourceFormat, target: key }: Source,
  said: ManifestSays,
): Promise<{ written: boolean; line: ManifestLine } | { leftOut: string }> {
  const { s3, bucket, format, partBytes } = options;
  const sourceLines = said.source;
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: source }));
  const metadata = head.Metadata ?? {};
  // Every object the flusher ever wrote has it (since its first version).
  const sha256 = metadata['spool-sha256'];
  if (!sha256) return { leftOut: 'not written by Spool (no spool-sha256 metadata)' };
  // What `spool verify` of the source calls extra (a copy put beside the objects, or an object
  // whose line is not written yet), and changed: a replay copied both, and verify of the target
  // then said ok (a review's runs: one generation's events twice, another's gone).
  if (sourceLines.length === 0 && said.dayHasManifest) return { leftOut: NOT_IN_MANIFEST };
  // By content: the same lines compressed again (another gzip level) are the same events, and an
  // object cut short keeps its metadata, which its copy's read then finds untrue.
  // Every line names it: lines that disagree are a manifest changed by hand (verify says so too).
  if (sourceLines.some((sourceLine) => sourceLine.sha256 !== sha256)) throw new Error(CHANGED_SINCE_MANIFEST);
  // A copy's metadata and manifest line carry the source's count, generation and shard: each is
  // checked first, against what tells it (a review's copy of an object whose spool-events was
  // edited to 999 carried 999 into the target's manifest, and verify of the target said ok).
  const problem = metadataProblem(metadata, source, sourceLines);
  if (problem) throw new Error(problem);
  const existing = await s3
    .send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
    .catch((error: unknown) => {
      if (error instanceof NotFound || (error as { name?: string }).name === 'NotFound') return undefined;
      throw error;
    });
  const line = (bytes: number, objectSha256?: string): ManifestLine => ({
    key,
    generation: Number(metadata['spool-generation'] ?? 0),
    shard: Number(metadata['spool-shard'] ?? 0),
    format,
    events: Number(metadata['spool-events'] ?? 0),
    bytes,
    rawBytes: Number(metadata['spool-raw-bytes'] ?? 0),
    sha256,
    ...(objectSha256 ? { objectSha256 } : {}),
    firstReceivedAt: metadata['spool-first-received-at'] ?? '',
    lastReceivedAt: metadata['spool-last-received-at'] ?? '',
  });
  const replayedFrom = keyAsMetadata(source);
  const copy = existing?.Metadata;
  // A copy of another size than its line says was changed (cut short, say) since a run wrote it:
  // written again. Taken as there, its size went into the manifest, and verify said ok (a review's run).
  const damaged = said.copy !== undefined && said.copy.bytes !== existing?.ContentLength;
  if (!damaged && copy?.['spool-replayed-from'] === replayedFrom && copy['spool-sha256'] === sha256) {
    // The copy's own were checked against its content when it was written: a rerun after the
    // source's were changed wrote the changed ones into the target's manifest, exit 0.
    const changed = COPIED_COUNTS.find((name) => copy[name] !== metadata[name]);
    if (changed) {
      throw new Error(
        `its ${changed} metadata (${metadata[changed] ?? 'none'}) is not its copy's already there (${copy[changed] ?? 'none'}): changed since it landed`,
      );
    }
    return { written: false, line: line(existing?.ContentLength ?? 0) };
  }
  // Parquet is only ever copied as it is (replay() refuses other targets), checked against the
  // SHA-256 of its bytes that its manifest lines record: it is one of its uploads, whichever S3
  // kept (each may have encoded the same rows anew).
  const parquetSha256s =
    sourceFormat === 'parquet' ? sourceLines.flatMap((sourceLine) => sourceLine.objectSha256 ?? []) : [];
  if (sourceFormat === 'parquet' && parquetSha256s.length === 0) return { leftOut: NO_PARQUET_DIGEST };
  const events = Number(metadata['spool-events']);
  // A run killed mid-upload left its parts: abort them before writing the copy again.
  await abortStaleUploads({ s3, bucket, key });
  const body = (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: source }))).Body as Readable;
  const writer = FORMAT_WRITERS[format];
  const { compressedBytes, objectSha256 } = await uploadBody(
    { s3, bucket, key },
    {
      // Each checked on the way, in the one read the copy makes (NDJSON: its content against its
      // spool-sha256; Parquet: its bytes against its manifest line): a damaged object (cut short,
      // changed) fails its copy, as it is or re-encoded.
      pieces:
        sourceFormat !== format
          ? encodeChunks(format, ndjsonChunks(body, sourceFormat, sha256, events), options.logger)
          : heldUntilChecked(
              body,
              parquetSha256s.length > 0 ? bytesCheck(parquetSha256s) : contentCheck(format, sha256, events),
            ),
      contentType: writer.contentType,
      metadata: { ...metadata, 'spool-replayed-from': replayedFrom },
    },
    partBytes,
  );
  return { written: true, line: line(compressedBytes, objectSha256) };
}

/** What a copy's bytes pass through on their way up: fed each piece, then asked at the end. */
interface CopyCheck {
  take(piece: Buffer): Promise<void>;
  /** Throws when what it was fed is not what the source's metadata or manifest says. */
  end(): Promise<void>;
}

/**
 * An object's bytes as they are, for a copy, each piece passed to `check`: the last piece is held
 * back until the check ends, so the upload of a damaged object is never completed. (A check in a
 * read of its own let a change between it and the copy's read through: a review's run copied 199
 * lines under the 200-line object's metadata.)
 */
async function* heldUntilChecked(body: Readable, check: CopyCheck): AsyncGenerator<Buffer> {
  let held: Buffer | undefined;
  for await (const piece of body as AsyncIterable<Buffer>) {
    if (held) yield held;
    held = piece;
    await check.take(piece);
  }
  await check.end();
  if (held) yield held;
}

/** An NDJSON object's content, decompressed as it comes, against its spool-sha256 and spool-events. */
function contentCheck(format: OutputFormat, sha256: string, events: number): CopyCheck {
  const inflate = ndjsonDecompressor(format);
  const content = contentTally(sha256, events);
  let failure: Error | undefined;
  inflate.on('data', (data: Buffer) => content.add(data));
  inflate.on('error', (error) => {
    failure = error;
  });
  const ended = new Promise<void>((resolve) => inflate.on('end', resolve).on('error', () => resolve()));
  return {
    async take(piece) {
      if (failure) throw failure;
      if (!inflate.write(piece) && !failure) await Promise.race([once(inflate, 'drain'), ended]);
    },
    async end() {
      inflate.end();
      await ended;
      if (failure) throw failure;
      content.check();
    },
  };
}

/**
 * An NDJSON object's decompressed content, tallied as it comes, and checked at its end against
 * its spool-sha256 and spool-events: the one rule of both copy paths (re-encoded, as it is).
 */
function contentTally(sha256: string, events: number) {
  const hash = createHash('sha256');
  let lines = 0;
  return {
    add(data: Buffer): void {
      hash.update(data);
      lines += newlines(data);
    },
    /** Throws when the content is not what the metadata says. */
    check(): void {
      if (hash.digest('hex') !== sha256) throw new Error(CHANGED);
      if (lines !== events) throw new Error(countChanged(events, lines));
    },
  };
}

/** An object's own bytes against the SHA-256s its manifest lines record: one of them. */
function bytesCheck(objectSha256s: readonly string[]): CopyCheck {
  const hash = createHash('sha256');
  return {
    async take(piece) {
      hash.update(piece);
    },
    async end() {
      if (!objectSha256s.includes(hash.digest('hex'))) throw new Error(BYTES_CHANGED);
    },
  };
}

const CHANGED = "its content's SHA-256 is not its spool-sha256 metadata's (changed since it landed)";
const BYTES_CHANGED =
  "it is not what its day's manifest line says (its bytes' SHA-256 is another's): changed since it landed";
const CHANGED_SINCE_MANIFEST =
  "it is not what its day's manifest line says (its spool-sha256 is another's): changed since it landed, as spool verify says";
const NOT_IN_MANIFEST =
  "not in its day's manifest, which spool verify calls extra (put there by hand, or landed so recently that its line is not written yet: run again then)";
const MISSING_FROM_S3 =
  "in its day's manifest, but not in S3 (deleted since it landed, as spool verify says): its events are not in the copies";
const NO_PARQUET_DIGEST =
  "no SHA-256 of its bytes in its day's manifest to check a copy against (its line not written yet: run again once the flusher has; or written before Spool recorded it)";

/** What a copy takes from its source's metadata and a check of its content confirms. */
const COPIED_COUNTS = ['spool-events', 'spool-generation', 'spool-shard'] as const;

const countChanged = (events: number, lines: number) =>
  `its spool-events metadata says ${events}, it holds ${lines} lines (changed since it landed)`;

/**
 * What in an object's metadata disagrees with what else tells it, or undefined: its generation and
 * shard with its key's (`…-<gen>[-s<shard>].<extension>`, objectKey), and its count, generation
 * and shard with its day's manifest line, when there is one. (An NDJSON object's lines are
 * counted against its spool-events as the copy reads it.)
 */
function metadataProblem(
  metadata: Record<string, string>,
  key: string,
  lines: readonly ManifestLine[],
): string | undefined {
  const events = Number(metadata['spool-events']);
  const generation = Number(metadata['spool-generation']);
  const shard = Number(metadata['spool-shard'] ?? 0);
  if (!Number.isSafeInteger(events) || events < 0) {
    return `its spool-events metadata is not a count (${JSON.stringify(metadata['spool-events'] ?? null)})`;
  }
  const named = generationOfKey(key);
  if (named && (named.gen !== generation || named.shard !== shard)) {
    return `its spool-generation and spool-shard metadata (${metadata['spool-generation']}, ${shard}) are not its key's (${named.gen}, ${named.shard}): changed since it landed`;
  }
  const line = lines.find(
    (candidate) =>
      candidate.events !== events || candidate.generation !== generation || candidate.shard !== shard,
  );
  if (line) {
    return `its metadata (spool-events ${events}, generation ${generation}, shard ${shard}) is not its day's manifest line's (${line.events}, ${line.generation}, ${line.shard}): changed since it landed`;
  }
  return undefined;
}

/** What the compressors are fed: the flusher's read size (they work on pieces of several MiB). */
const CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * An NDJSON object's lines, decompressed, in chunks of CHUNK_BYTES (the last smaller), as the
 * flusher reads Redis. Fails, before its last chunk, when the content's SHA-256 is not `sha256`
 * (its spool-sha256 metadata) or its lines are not `events` (its spool-events): so the upload of
 * a copy of changed content is never completed.
 */
async function* ndjsonChunks(
  body: Readable,
  format: OutputFormat,
  sha256: string,
  events: number,
): AsyncGenerator<{ data: Buffer; release(): void }> {
  // Through pipeline(), never .pipe(): a download cut short must fail the copy (.pipe() leaves the
  // decompressor waiting for an end that never comes, and the run exits 13 with nothing said).
  const content = pipeline(body, ndjsonDecompressor(format), () => {});
  const tally = contentTally(sha256, events);
  let pending: Buffer[] = [];
  let size = 0;
  for await (const data of content as AsyncIterable<Buffer>) {
    tally.add(data);
    pending.push(data);
    size += data.length;
    if (size >= CHUNK_BYTES) {
      yield { data: Buffer.concat(pending), release: () => {} };
      pending = [];
      size = 0;
    }
  }
  tally.check();
  if (size > 0) yield { data: Buffer.concat(pending), release: () => {} };
}
