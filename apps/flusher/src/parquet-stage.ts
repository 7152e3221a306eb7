import { createReadStream } from 'node:fs';
import { type FileHandle, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { LineSplitter } from './line-splitter.js';
import { copyToParquet, duckdbErrorKind, isDataError, isOutOfMemory, withoutData } from './parquet-duckdb.js';
import { type ParquetSchema, SchemaBuilder, schemaAttempts } from './parquet-schema.js';
import { makeScratchDir, writeAll } from './scratch-dirs.js';
import type { Chunk } from './sealed-reader.js';
import { writeTextLines } from './text-lines.js';

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

const READ_BYTES = 4 * 1024 * 1024;

/** The staged files: lines whose fields are columns, and lines kept whole (SchemaBuilder.addLine). */
const COLUMN_LINES = 'columns.ndjson';
const WHOLE_LINES = 'whole-events.ndjson';

export function rowGroupRows(rawBytes: number, events: number): number {
  const meanEventBytes = Math.max(1, rawBytes / Math.max(1, events));
  const rows = Math.round(ROW_GROUP_NDJSON_BYTES / meanEventBytes);
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
export function rowGroupBytes(rawBytes: number, events: number, largestRunBytes: number): number {
  const runs = Math.ceil(rowGroupRows(rawBytes, events) / MIN_ROW_GROUP_ROWS);
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
 * The lines are staged in two files: those whose fields are columns, and the few kept whole
 * (SchemaBuilder.addLine says which), which DuckDB reads as one `_event` column beside the others.
 */
export class ParquetStage {
  private readonly schema = new SchemaBuilder();
  private readonly lines = new LineSplitter();
  private events = 0;
  private rawBytes = 0;
  private maxLineBytes = 0;
  private readonly largestRun = new LargestRun();
  private discarded = false;
  /** The parts of the chunk being staged, for each file: runs of its lines, each line with its "\n". */
  private readonly columnParts: Buffer[] = [];
  private readonly wholeParts: Buffer[] = [];
  /** The run of lines of the chunk being staged that are columns, not yet in columnParts. */
  private run: { buffer: Buffer; start: number; end: number } | undefined;
  private wholeEvents = 0;

  private constructor(
    private readonly dir: string,
    private readonly columnLines: FileHandle,
    private readonly wholeLines: FileHandle,
    private readonly report: FallbackReport,
  ) {}

  static async open(report: FallbackReport): Promise<ParquetStage> {
    const dir = await makeScratchDir();
    const opened: FileHandle[] = [];
    try {
      for (const name of [COLUMN_LINES, WHOLE_LINES]) opened.push(await open(join(dir, name), 'w'));
      return new ParquetStage(dir, opened[0] as FileHandle, opened[1] as FileHandle, report);
    } catch (error) {
      await Promise.all(opened.map((file) => file.close().catch(() => {})));
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
    this.rawBytes += data.length;
    this.lines.push(data, this.addLine);
    await this.writeParts();
  }

  private readonly addLine = (data: Buffer, start: number, end: number): void => {
    if (end === start) return;
    this.events += 1;
    if (end - start > this.maxLineBytes) this.maxLineBytes = end - start;
    this.largestRun.add(end - start + 1);
    if (!this.schema.addLine(data, start, end)) {
      this.endRun();
      this.wholeEvents += 1;
      this.wholeParts.push(data.subarray(start, end), NEWLINE);
    } else if (this.run?.buffer === data && this.run.end + 1 === start) {
      this.run.end = end;
    } else {
      this.endRun();
      this.run = { buffer: data, start, end };
    }
  };

  private endRun(): void {
    if (!this.run) return;
    this.columnParts.push(this.run.buffer.subarray(this.run.start, this.run.end), NEWLINE);
    this.run = undefined;
  }

  /**
   * Writes the lines staged since the last call to their files: a chunk's lines are one run (one
   * write, no copy) unless some are kept whole. Referencing the chunk: done before it is released.
   */
  private async writeParts(): Promise<void> {
    this.endRun();
    const writes = [this.columnParts, this.wholeParts].map((parts, index) => {
      if (parts.length === 0) return undefined;
      const data = parts.length === 2 ? (parts[0] as Buffer) : Buffer.concat(parts);
      const newline = parts.length === 2 ? NEWLINE : undefined;
      parts.length = 0;
      const file = index === 0 ? this.columnLines : this.wholeLines;
      return writeAll(file, data).then(() => (newline ? writeAll(file, newline) : undefined));
    });
    await Promise.all(writes);
  }

  /** Writes the Parquet file and yields its bytes; the staged files are removed after. */
  async *encode(): AsyncGenerator<Buffer> {
    try {
      this.lines.end(this.addLine);
      await this.writeParts();
      await Promise.all([this.columnLines.close(), this.wholeLines.close()]);
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
        'writing events whose fields cannot be columns whole, in the _event JSON column',
      );
    }
    const attempts = schemaAttempts(schema);
    for (let index = 0; index < attempts.length; index++) {
      const attempt = attempts[index] as ParquetSchema;
      let rows: number;
      try {
        const staged = [join(this.dir, COLUMN_LINES), join(this.dir, WHOLE_LINES)];
        const input = attempt.kind === 'lines' ? join(this.dir, 'generation.lines') : (staged[0] as string);
        if (attempt.kind === 'lines') {
          await writeTextLines(staged, input);
          // The last way of reading it: the staged lines are not read again, and the disk holds
          // one copy of the generation, as scratchBytesNeeded counts.
          await Promise.all(staged.map((file) => rm(file, { force: true })));
        }
        rows = await copyToParquet({
          input,
          wholeEvents: attempt.kind !== 'lines' && this.wholeEvents > 0 ? staged[1] : undefined,
          spill: join(this.dir, 'spill'),
          output,
          schema: attempt,
          rowGroupRows: rowGroupRows(this.rawBytes, this.events),
          rowGroupBytes: rowGroupBytes(this.rawBytes, this.events, this.largestRun.most),
          maxLineBytes: this.maxLineBytes,
        });
      } catch (error) {
        const last = index === attempts.length - 1;
        if (last || !(isDataError(error) || isOutOfMemory(error))) throw withoutData(error);
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
    await Promise.all([this.columnLines.close().catch(() => {}), this.wholeLines.close().catch(() => {})]);
    await rm(this.dir, { recursive: true, force: true });
  }
}
