import type { DuckDBInstance } from '@duckdb/node-api';
import { type ParquetSchema, WHOLE_EVENT_COLUMN } from './parquet-schema.js';

/**
 * DuckDB, which writes the Parquet objects (docs/output.md says why DuckDB). Its library is
 * loaded on the first Parquet flush (a flusher that writes none never maps its 70 MB), and each
 * COPY runs in an instance of its own on one thread, one COPY at a time: so the memory a Parquet
 * flush adds is the same whatever FLUSH_CONCURRENCY (other flushes stage their generations
 * meanwhile and wait their turn), and closing the instance gives its memory back before the
 * upload starts (an instance kept open held some 65 MiB after each COPY, measured).
 */

/** DuckDB's own buffers; what a COPY cannot fit spills to disk (temp_directory). */
const MEMORY_LIMIT = '96MB';

let turn: Promise<unknown> = Promise.resolve();

/**
 * Loads DuckDB's library (no instance: that costs memory), so that a flusher told to write
 * Parquet where DuckDB cannot run (a platform without its prebuilt binding) refuses to start
 * rather than fail every Parquet flush. Throws with the loader's reason.
 */
export async function loadDuckdb(): Promise<void> {
  await import('@duckdb/node-api');
}

async function openDuckdb(spill: string): Promise<DuckDBInstance> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  // No ICU extension (it is not built in, and a flusher downloads nothing): times without an
  // offset are read as UTC, which is what Spool's own times are.
  return DuckDBInstance.create(':memory:', {
    threads: '1',
    memory_limit: MEMORY_LIMIT,
    temp_directory: spill,
  });
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

export interface CopyToParquet {
  /** A file of NDJSON: the generation as staged. */
  input: string;
  output: string;
  /** Where DuckDB may spill what its memory limit cannot hold (a directory it may create). */
  spill: string;
  schema: ParquetSchema;
  rowGroupRows: number;
  /** The longest line's size bound, in bytes (DuckDB refuses longer JSON values). */
  maxLineBytes: number;
}

/** The `read_ndjson` call that reads the staged generation with its inferred schema. */
export function readStatement({ input, schema, maxLineBytes }: CopyToParquet): string {
  const objectBytes = Math.max(1024 * 1024, maxLineBytes + 1024);
  const columns =
    schema.kind === 'columns'
      ? schema.columns.map(({ name, type }) => `${literal(name)}: ${literal(type)}`).join(', ')
      : `${literal(WHOLE_EVENT_COLUMN)}: 'JSON'`;
  const records = schema.kind === 'columns' ? 'true' : 'false';
  return `read_ndjson(${literal(input)}, columns = {${columns}}, records = ${records}, maximum_object_size = ${objectBytes})`;
}

/** Writes the staged generation as one Parquet file: zstd columns, row groups of `rowGroupRows`. */
export function copyToParquet(copy: CopyToParquet): Promise<void> {
  const run = turn.then(async () => {
    const instance = await openDuckdb(copy.spill);
    try {
      const connection = await instance.connect();
      try {
        await connection.run(
          `COPY (SELECT * FROM ${readStatement(copy)}) TO ${literal(copy.output)} ` +
            `(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${copy.rowGroupRows})`,
        );
      } finally {
        connection.closeSync();
      }
    } finally {
      instance.closeSync();
    }
  });
  turn = run.catch(() => {});
  return run;
}

/**
 * Whether DuckDB refused a value for its column's type. Such an error's message quotes the
 * value, so it is never logged: only `duckdbErrorKind` is.
 */
export function isValueError(error: unknown): boolean {
  return /^(Invalid Input|Conversion) Error/.test(duckdbErrorKind(error));
}

/** The kind of a DuckDB error ("Conversion Error"), without the rest of its message. */
export function duckdbErrorKind(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /^[A-Za-z ]+ Error/.exec(message)?.[0] ?? 'Error';
}
