import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  NotFound,
  type S3Client,
} from '@aws-sdk/client-s3';
import { type ManifestLine, manifestFolder, readManifestLines } from '@spool/flusher/dist/manifests.js';
import { formatOfKey } from '@spool/flusher/dist/output-formats.js';
import { duckdbErrorKind, isOutOfMemory, parquetRows } from '@spool/flusher/dist/parquet-duckdb.js';
import { listKeys } from '@spool/flusher/dist/s3-keys.js';
import { withScratchFile } from '@spool/flusher/dist/scratch-dirs.js';
import { ByteCounter } from '@spool/flusher/dist/upload.js';
import { ndjsonDecompressor, newlines } from './ndjson-content.js';

export interface VerifyTarget {
  s3: S3Client;
  bucket: string;
  prefix: string;
  stream: string;
  /** YYYY-MM-DD: the `dt=` partition. */
  day: string;
  /** Also read every object: decompress it, count its lines and hash its content. */
  deep?: boolean;
}

export interface VerifyReport {
  manifest: string;
  /** Lines in the manifest. */
  checked: number;
  /** In the manifest, not in S3. */
  missing: string[];
  /** In both, but not what the manifest says. */
  changed: Array<{ key: string; why: string }>;
  /** In the partition, not in the manifest (or whose line a flusher has not written yet). */
  extra: string[];
}

/**
 * Checks a stream's day in S3 against its manifest and the objects' own metadata: every line's
 * object is there (none missing), its size, event count and content digest are the manifest's
 * (none changed; `deep` reads the content itself, else the metadata), and every object of the
 * partition has a line (none extra). Reads the manifest once and each object's head (or body).
 */
export async function verifyDay(target: VerifyTarget): Promise<VerifyReport> {
  const { s3, bucket, prefix, stream, day } = target;
  const key = manifestFolder(prefix, stream, day);
  const manifest = await readManifestLines(s3, bucket, prefix, stream, day);
  const report: VerifyReport = { manifest: key, checked: manifest.size, missing: [], changed: [], extra: [] };
  const partition = `${prefix}stream=${stream}/dt=${day}/`;
  if (manifest.size === 0) {
    // Objects without a single line (the parts deleted, or a flusher gone before its first write
    // of the day and no sweep since) are not "nothing landed": each is named, as extra.
    for await (const objectKey of listKeys(s3, bucket, partition)) report.extra.push(objectKey);
    if (report.extra.length === 0) {
      throw new Error(
        `no manifest at s3://${bucket}/${key}, and no objects under s3://${bucket}/${partition}`,
      );
    }
    return report;
  }

  for (const [objectKey, entries] of manifest) {
    const lines = entries.map(({ line }) => line);
    // A line for another stream's or day's object (copied in by hand, or tampered with) would
    // count its events in this day's: the object may be whole, the line is not this day's.
    const why = !objectKey.startsWith(partition)
      ? `this day's manifest lists it, but it is not under ${partition}`
      : (disagreement(lines) ??
        (await check(target, lines).catch((error: unknown) => {
          // What stops the run (S3, the network, memory) names the object it was checking.
          throw new Error(`${objectKey}: ${(error as Error).message}`, { cause: error });
        })));
    if (why === 'missing') report.missing.push(objectKey);
    else if (why) report.changed.push({ key: objectKey, why });
  }
  for await (const objectKey of listKeys(s3, bucket, partition)) {
    if (!manifest.has(objectKey)) report.extra.push(objectKey);
  }
  return report;
}

/** The hashes of an object's bytes its lines give. */
const hashesOf = (lines: ManifestLine[]): string[] =>
  lines.flatMap((line) => (line.objectSha256 ? [line.objectSha256] : []));

/** What an object's lines must agree on: its content. Its bytes may differ (an upload made again). */
const CONTENT_FIELDS = ['format', 'events', 'sha256', 'rawBytes'] as const;

/** Why an object's lines contradict one another, or undefined when they agree on its content. */
function disagreement(lines: ManifestLine[]): string | undefined {
  const [first, ...rest] = lines as [ManifestLine, ...ManifestLine[]];
  for (const field of CONTENT_FIELDS) {
    const other = rest.find((line) => line[field] !== first[field]);
    if (other) {
      return `the manifest holds ${lines.length} lines for it that disagree: ${field} ${JSON.stringify(first[field])} and ${JSON.stringify(other[field])}`;
    }
  }
  return undefined;
}

/**
 * What is wrong with an object, 'missing', or undefined when it is what its lines say. Lines that
 * agree on its content may name other bytes (a generation uploaded again, after a failover lost
 * its release, encodes the same lines anew): the object must be one of them.
 */
async function check(target: VerifyTarget, lines: ManifestLine[]): Promise<string | undefined> {
  const { s3, bucket } = target;
  const last = lines.at(-1) as ManifestLine;
  // The format says how --deep reads the object (an unknown one was read as gzip): it must be its key's.
  const keyFormat = formatOfKey(last.key);
  if (last.format !== keyFormat) {
    return `the manifest says its format is ${JSON.stringify(last.format)}, its key's is ${keyFormat ?? 'none'}`;
  }
  let head: HeadObjectCommandOutput;
  try {
    head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: last.key }));
  } catch (error) {
    if (error instanceof NotFound || (error as { name?: string }).name === 'NotFound') return 'missing';
    throw error;
  }
  // Those of its lines that name its size; --deep takes any of them whose bytes' hash it has.
  const sized = lines.filter((candidate) => candidate.bytes === head.ContentLength);
  const line = sized.at(-1) ?? last;
  const hashes = hashesOf(sized);
  const metadata = head.Metadata ?? {};
  if (head.ContentLength !== line.bytes)
    return `${head.ContentLength} bytes, the manifest says ${line.bytes}`;
  if (metadata['spool-sha256'] !== line.sha256) return 'its spool-sha256 is not the manifest’s';
  if (metadata['spool-events'] !== String(line.events)) {
    return `its spool-events is ${metadata['spool-events']}, the manifest says ${line.events}`;
  }
  if (!target.deep) return undefined;
  let content: Awaited<ReturnType<typeof readContent>>;
  try {
    content = await readContent(s3, bucket, line, hashes);
  } catch (error) {
    // Its bytes arrived whole and do not decompress (or DuckDB cannot read them): this object
    // is changed, and the others are still checked. Anything else (S3, the network) stops the run.
    if (error instanceof UnreadableContent) return `its content cannot be read (${error.message})`;
    throw error;
  }
  if (hashes.length > 0 && !hashes.includes(content.objectSha256)) {
    return 'its bytes’ SHA-256 is not the manifest’s';
  }
  if (content.lines !== line.events) {
    return `it holds ${content.lines} ${line.format === 'parquet' ? 'rows' : 'lines'}, the manifest says ${line.events}`;
  }
  // A Parquet object's lines are not in it as they were sent: its rows and bytes are the check.
  if (content.sha256 === undefined) return undefined;
  if (content.sha256 !== line.sha256) return 'its content’s SHA-256 is not the manifest’s';
  return undefined;
}

/**
 * The SHA-256 of an object's bytes and, for the NDJSON formats, the lines and SHA-256 of its
 * decompressed content (streamed, never held whole); for Parquet, its rows (the object is
 * written to a temporary file for DuckDB to read its footer).
 */
async function readContent(
  s3: S3Client,
  bucket: string,
  line: ManifestLine,
  /** The hashes its lines give its bytes (none from lines written before objectSha256). */
  hashes: string[],
): Promise<{ objectSha256: string; lines: number; sha256?: string }> {
  const answer = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: line.key }));
  const objectBytes = new ByteCounter();
  // Through pipeline(), never .pipe(): a download cut short fails the check instead of hanging it.
  const body = answer.Body as Readable;
  if (line.format === 'parquet') {
    return withScratchFile('object.parquet', async (file) => {
      await pipeline(body, objectBytes, createWriteStream(file));
      const objectSha256 = objectBytes.hash.digest('hex');
      // Bytes that are not the ones written are changed, whatever DuckDB would make of them.
      if (hashes.length > 0 && !hashes.includes(objectSha256)) return { objectSha256, lines: Number.NaN };
      const rows = await parquetRows(file).catch((error: unknown) => {
        // Bytes that are the ones written: DuckDB's failure is the tool's (memory, its library),
        // and stops the run. Without a digest to tell, what DuckDB itself refuses in the whole file
        // here (a damaged footer is an "Invalid Error", or an "IO Error" short of bytes) is the
        // content's fault, except memory; anything else (its library not loading) stops the run.
        // Its kind of error only: its message may quote the file.
        const kind = duckdbErrorKind(error);
        if (hashes.length > 0 || isOutOfMemory(error) || kind === 'Error') throw error;
        throw new UnreadableContent(`DuckDB: ${kind}`, { cause: error });
      });
      return { objectSha256, lines: rows };
    });
  }
  const decompress = ndjsonDecompressor(line.format);
  let decompressError: unknown;
  decompress.once('error', (error) => {
    decompressError = error;
  });
  // Whether the download ended short of the object: the decompressor then fails too (at the end
  // it never gets), and the network, not the object, is at fault.
  let endedShort = false;
  body.once('end', () => {
    endedShort = objectBytes.bytes < (answer.ContentLength ?? 0);
  });
  const hash = createHash('sha256');
  let lines = 0;
  try {
    await pipeline(body, objectBytes, decompress, async (content: AsyncIterable<Buffer>) => {
      for await (const chunk of content) {
        hash.update(chunk);
        lines += newlines(chunk);
      }
    });
  } catch (error) {
    // The decompressor refused bytes the download delivered (it stops the download there: the
    // rest is never read); a download cut short fails as the network does, whatever the
    // decompressor made of it.
    if (error === decompressError && !endedShort) {
      throw new UnreadableContent((error as Error).message, { cause: error });
    }
    throw error;
  }
  return { objectSha256: objectBytes.hash.digest('hex'), lines, sha256: hash.digest('hex') };
}

/** An object whose bytes all arrived, and cannot be read as its format: a changed object. */
class UnreadableContent extends Error {}
