import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { LineSplitter } from './line-splitter.js';
import {
  copyToParquet,
  duckdbErrorKind,
  isDataError,
  isOutOfMemory,
  moreMemoryFor,
  withoutData,
} from './parquet-duckdb.js';
import { type ParquetSchema, SchemaBuilder, schemaAttempts } from './parquet-schema.js';
import { makeScratchDir } from './scratch-dirs.js';
import type { Chunk } from './sealed-reader.js';
import { StagedFiles } from './staged-files.js';
import { writeTextLines } from './text-lines.js';
import { FieldNames } from './top-level-fields.js';
import { wholeEventLine } from './whole-event-lines.js';

/**
 * Rows per row group are sized by the generation's mean event size, aiming at this much NDJSON
 * per group (about 0.7 MiB of zstd Parquet for 300-byte events): DuckDB and Athena read row
 * groups in parallel and skip them by their statistics, and the writer holds one group in
 * memory at a time, so a group is as large as the flusher's memory bound allows (docs/output.md
 * has the measurements).
 */
export const ROW_GROUP_NDJSON_BYTES = 4 * 1024 * 1024;
export const MIN_ROW_GROUP_ROWS = 2048;
/** DuckDB's default row group: larger ones buy readers nothing more. */
export const MAX_ROW_GROUP_ROWS = 122_880;
/**
 * The most values (rows × columns) a row group holds beyond MIN_ROW_GROUP_ROWS rows: DuckDB's
 * writer holds every column of a group, a sparse one at full width, so 200 sparse integer fields
 * (5 an event) in 33 MiB groups of 32,145 rows ran it out of memory at 96 and 128 MB, where 4,096
 * rows passed at 96 (a review's run), and the generation lost its columns to text lines.
 */
export const MAX_ROW_GROUP_VALUES = 800_000;

/** How a generation was written when not with its typed columns (docs/output.md#parquet). */
export type FallbackKind = 'whole-event' | 'json-columns' | 'text-lines';

/** Where a generation written without its typed columns is told: the log, and a metric. */
export interface FallbackReport {
  logger: Pick<Logger, 'warn'>;
  fallback?: (kind: FallbackKind) => void;
}

function fallbackKind(schema: ParquetSchema): FallbackKind {
  if (schema.kind === 'lines') return 'text-lines';
  return schema.kind === 'whole-event' ? 'whole-event' : 'json-columns';
}

/**
 * The Parquet file is read for the upload in pieces of this: 4 MiB reads filled the upload's part
 * slots at once and peaked 20 MiB higher (docs/benchmarks.md, "One read of Redis").
 */
const READ_BYTES = 1024 * 1024;

/** The staged generation's files (an event kept whole in its staged form): `generation-NNNNN.ndjson`. */
const STAGED = 'generation';

/** Rows per row group, for `columns` columns (1 for one column of text). */
export function rowGroupRows(rawBytes: number, events: number, columns = 1): number {
  const meanEventBytes = Math.max(1, rawBytes / Math.max(1, events));
  // DuckDB ends a group at the first of its chunks (at most MIN_ROW_GROUP_ROWS rows each) that
  // reaches the size asked: 3,960 rows of 202 columns were written 4,096, and 12,277 asked of
  // 7 columns 12,288 to 14,315 (reviews' runs). So the values' bound is in whole vectors,
  // rounded down; a group may still pass it by up to a chunk, left to moreMemoryFor's retry.
  const byValues = Math.floor(MAX_ROW_GROUP_VALUES / columns / MIN_ROW_GROUP_ROWS) * MIN_ROW_GROUP_ROWS;
  const rows = Math.min(Math.round(ROW_GROUP_NDJSON_BYTES / meanEventBytes), byValues);
  return Math.min(MAX_ROW_GROUP_ROWS, Math.max(MIN_ROW_GROUP_ROWS, rows));
}

/**
 * The most bytes any MIN_ROW_GROUP_ROWS consecutive lines of the generation hold (a sliding sum
 * over the lines as they are staged): large events that come together make a row group of them,
 * whatever the generation's mean.
 */
export class LargestRun {
  private readonly sizes = new Uint32Array(MIN_ROW_GROUP_ROWS);
  private next = 0;
  private sum = 0;
  most = 0;

  add(bytes: number): void {
    this.sum += bytes - (this.sizes[this.next] as number);
    this.sizes[this.next] = bytes;
    this.next = (this.next + 1) % MIN_ROW_GROUP_ROWS;
    if (this.sum > this.most) this.most = this.sum;
  }
}

/**
 * The most NDJSON one row group may hold: a group of `rowGroupRows` lines is at most that many
 * runs of MIN_ROW_GROUP_ROWS lines, each at most the largest run; and never more than the
 * generation.
 */
export function rowGroupBytes(
  rawBytes: number,
  events: number,
  largestRunBytes: number,
  columns = 1,
): number {
  const runs = Math.ceil(rowGroupRows(rawBytes, events, columns) / MIN_ROW_GROUP_ROWS);
  return Math.min(rawBytes, runs * largestRunBytes);
}

const NEWLINE = Buffer.from('\n');

/**
 * A generation on its way to Parquet. Parquet needs the whole generation's schema before its
 * first row, so the generation is staged on local disk as it is read (once, from Redis) while
 * its schema is inferred from every line; `encode` then has DuckDB write the Parquet file and
 * yields its bytes for the upload. Memory stays bounded whatever the generation's size; disk
 * holds the generation and its Parquet file until `discard` (which `encode` calls when done).
 *
 * A line whose fields cannot be columns (SchemaBuilder.addLine says which) is staged in its place
 * as a line of its own (whole-event-lines.ts), which DuckDB reads as one `_event` column beside
 * the others' columns: the order, and so the row groups' sizes, stay the generation's.
 */
export class ParquetStage {
  private readonly schema = new SchemaBuilder();
  private readonly lines = new LineSplitter();
  private events = 0;
  /** The bytes staged: the generation's, an event kept whole in its staged form. */
  private stagedBytes = 0;
  private maxLineBytes = 0;
  private readonly largestRun = new LargestRun();
  private discarded = false;
  /** The chunk being staged, to write: runs of its lines and events kept whole, each with its "\n". */
  private readonly parts: Buffer[] = [];
  /** The run of the chunk's lines whose fields are columns, not yet in `parts`. */
  private run: { buffer: Buffer; start: number; end: number } | undefined;
  private readonly names = new FieldNames();

  private constructor(
    private readonly dir: string,
    private readonly staged: StagedFiles,
    private readonly report: FallbackReport,
  ) {}

  static async open(report: FallbackReport): Promise<ParquetStage> {
    const dir = await makeScratchDir();
    try {
      return new ParquetStage(dir, await StagedFiles.open(dir, STAGED), report);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * The generation's chunks, in order, each released once staged (and shown to `seen` first).
   * On failure the staged files are removed and the error thrown.
   */
  async addAll(chunks: AsyncIterable<Chunk>, seen: (data: Buffer) => void = () => {}): Promise<void> {
    try {
      for await (const chunk of chunks) {
        seen(chunk.data);
        await this.add(chunk.data);
        chunk.release();
      }
    } catch (error) {
      await this.discard();
      throw error;
    }
  }

  /** A chunk of the generation, in order. Its buffer may be reused once this resolves. */
  async add(data: Buffer): Promise<void> {
    this.lines.push(data, this.addLine);
    await this.writeParts();
  }

  /**
   * A line of the generation. An empty one (a buffer written by hand) is an event as the summary
   * counts it, kept whole: skipped, the object held a row fewer than its metadata and manifest
   * said, and `spool verify` called it changed (a review's run).
   */
  private readonly addLine = (data: Buffer, start: number, end: number): void => {
    this.events += 1;
    let staged = end - start;
    if (this.schema.addLine(data, start, end)) {
      if (this.run?.buffer === data && this.run.end + 1 === start) this.run.end = end;
      else {
        this.endRun();
        this.run = { buffer: data, start, end };
      }
    } else {
      this.endRun();
      const whole = wholeEventLine(data, start, end, this.names);
      this.parts.push(whole);
      staged = whole.length - 1;
    }
    this.stagedBytes += staged + 1;
    if (staged > this.maxLineBytes) this.maxLineBytes = staged;
    this.largestRun.add(staged + 1);
  };

  private endRun(): void {
    if (!this.run) return;
    this.parts.push(this.run.buffer.subarray(this.run.start, this.run.end), NEWLINE);
    this.run = undefined;
  }

  /**
   * Writes the lines staged since the last call: a chunk's lines are one run (one write, no copy)
   * unless some are kept whole. Referencing the chunk: done before it is released.
   */
  private async writeParts(): Promise<void> {
    this.endRun();
    const parts = this.parts.splice(0);
    if (parts.length === 2 && parts[1] === NEWLINE) {
      // One run: the chunk's own bytes, not copied.
      await this.staged.write(parts[0] as Buffer);
      await this.staged.write(NEWLINE);
    } else if (parts.length > 0) await this.staged.write(Buffer.concat(parts));
  }

  /** Writes the Parquet file and yields its bytes; the staged files are removed after. */
  async *encode(): AsyncGenerator<Buffer> {
    try {
      // The last line, when the generation did not end in "\n" (none when it did).
      this.lines.end((data, start, end) => {
        if (end > start) this.addLine(data, start, end);
      });
      await this.writeParts();
      await this.staged.close();
      const output = join(this.dir, 'generation.parquet');
      await this.writeParquet(output);
      yield* createReadStream(output, { highWaterMark: READ_BYTES });
    } finally {
      await this.discard();
    }
  }

  /**
   * Has DuckDB write the staged generation to `output`, trying each way of reading it in turn
   * (schemaAttempts) while DuckDB refuses the data, and checks that it wrote every event.
   */
  private async writeParquet(output: string): Promise<void> {
    const schema = this.schema.result();
    if (schema.kind === 'whole-event') {
      this.report.logger.warn({ reason: schema.reason }, 'writing the generation as one _event JSON column');
    } else if (schema.kind === 'columns' && schema.wholeEvents) {
      this.report.logger.warn(
        { reason: schema.wholeEvents.reason, events: schema.wholeEvents.count },
        'writing events whose fields cannot be columns whole, as text in the _event column',
      );
    }
    const attempts = schemaAttempts(schema);
    let moreMemory = false;
    for (let index = 0; index < attempts.length; index++) {
      const attempt = attempts[index] as ParquetSchema;
      const columns = attempt.kind === 'columns' ? attempt.columns.length : 1;
      const groupBytes = rowGroupBytes(this.stagedBytes, this.events, this.largestRun.most, columns);
      let rows: number;
      try {
        const staged = this.staged.paths;
        const inputs = attempt.kind === 'lines' ? [join(this.dir, 'generation.lines')] : staged;
        let maxLineBytes = this.maxLineBytes;
        if (attempt.kind === 'lines') {
          maxLineBytes = await writeTextLines(staged, inputs[0] as string);
          // The last way of reading it: the staged lines are not read again, and the disk holds
          // one copy of the generation, as scratchBytesNeeded counts.
          await Promise.all(staged.map((path) => rm(path, { force: true })));
        }
        rows = await copyToParquet({
          inputs,
          spill: join(this.dir, 'spill'),
          output,
          schema: attempt,
          rowGroupRows: rowGroupRows(this.stagedBytes, this.events, columns),
          rowGroupBytes: groupBytes,
          memoryBytes: moreMemory ? moreMemoryFor(groupBytes) : undefined,
          maxLineBytes,
        });
      } catch (error) {
        const last = index === attempts.length - 1;
        if (last || !(isDataError(error) || isOutOfMemory(error))) throw withoutData(error);
        // Out of memory with its columns: once more with more memory, before they are lost.
        if (isOutOfMemory(error) && attempt.kind === 'columns' && !moreMemory) {
          moreMemory = true;
          index -= 1;
          this.report.logger.warn(
            { error: duckdbErrorKind(error) },
            'DuckDB ran out of memory writing the generation: trying once more with more',
          );
          continue;
        }
        moreMemory = false;
        // Out of memory with its columns: as many columns of text would be too; one column may fit.
        if (isOutOfMemory(error)) index = attempts.length - 2;
        this.report.logger.warn(
          { error: duckdbErrorKind(error), next: fallbackKind(attempts[index + 1] as ParquetSchema) },
          'DuckDB could not write the generation as read: reading it another way',
        );
        continue;
      }
      // Never an object short of events: the flush fails and is retried instead.
      if (rows !== this.events) {
        throw new Error(`DuckDB wrote ${rows} Parquet rows for a generation of ${this.events} events`);
      }
      if (attempt !== schema || schema.kind !== 'columns') this.report.fallback?.(fallbackKind(attempt));
      else if (schema.wholeEvents) this.report.fallback?.('whole-event');
      return;
    }
  }

  /** Removes the staged files (and stops staging); safe to call more than once. */
  async discard(): Promise<void> {
    if (this.discarded) return;
    this.discarded = true;
    await this.staged.close().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}
