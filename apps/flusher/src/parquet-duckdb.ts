import type { DuckDBConnection } from '@duckdb/node-api';
import { type ParquetSchema, WHOLE_EVENT_COLUMN } from './parquet-schema.js';

/**
 * DuckDB, which writes the Parquet objects (docs/output.md says why DuckDB). Its library is
 * loaded at start by a flusher told to write Parquet (main.ts), else on the first Parquet flush
 * it meets (a generation another flusher sealed as Parquet); one that never writes Parquet never
 * maps its 70 MB. Each COPY runs in an instance of its own on one thread, one COPY at a time: so the memory a Parquet
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

/** Runs `work` on a connection to a DuckDB instance of its own, both closed after. */
async function withDuckdb<T>(spill: string, work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', {
    threads: '1',
    memory_limit: MEMORY_LIMIT,
    temp_directory: spill,
    // A flusher downloads and loads no extension: what it needs (JSON, Parquet) is built in.
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  try {
    const connection = await instance.connect();
    try {
      return await work(connection);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
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

/** The call that reads the staged generation with its schema (docs/output.md#parquet). */
export function readStatement({ input, schema, maxLineBytes }: CopyToParquet): string {
  const objectBytes = Math.max(1024 * 1024, maxLineBytes + 1024);
  if (schema.kind === 'lines') {
    // Each line as text, parsing nothing: JSON text never holds a raw 0x01 (JSON escapes it), so
    // with that delimiter and no quoting a line is always one field.
    return (
      `read_csv(${literal(input)}, columns = {${literal(WHOLE_EVENT_COLUMN)}: 'VARCHAR'}, header = false, ` +
      `delim = E'\\x01', quote = '', escape = '', auto_detect = false, new_line = '\\n', ` +
      `max_line_size = ${objectBytes})`
    );
  }
  const columns =
    schema.kind === 'columns'
      ? schema.columns.map(({ name, type }) => `${literal(name)}: ${literal(type)}`).join(', ')
      : `${literal(WHOLE_EVENT_COLUMN)}: 'VARCHAR'`;
  const records = schema.kind === 'columns' ? 'true' : 'false';
  return `read_ndjson(${literal(input)}, columns = {${columns}}, records = ${records}, maximum_object_size = ${objectBytes})`;
}

/**
 * Writes the staged generation as one Parquet file (zstd columns, row groups of `rowGroupRows`)
 * and resolves with the rows it wrote.
 */
export function copyToParquet(copy: CopyToParquet): Promise<number> {
  const run = turn.then(() =>
    withDuckdb(copy.spill, async (connection) => {
      const result = await connection.run(
        `COPY (SELECT * FROM ${readStatement(copy)}) TO ${literal(copy.output)} ` +
          `(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${copy.rowGroupRows})`,
      );
      return Number(result.rowsChanged);
    }),
  );
  turn = run.catch(() => {});
  return run;
}

/** The rows a Parquet file holds, from its footer (spool verify --deep). */
export function parquetRows(file: string): Promise<number> {
  return withDuckdb(`${file}.spill`, async (connection) => {
    const reader = await connection.runAndReadAll(`SELECT count(*) FROM read_parquet(${literal(file)})`);
    return Number(reader.getRows()[0]?.[0]);
  });
}

/**
 * Whether DuckDB refused the data as read (a value for its column's type, JSON it cannot parse, a
 * name it cannot bind), rather than failed to run (memory, disk): the next way of reading the
 * generation may take it. Such an error's message quotes the data, so it is never logged or
 * thrown on: only `duckdbErrorKind` is.
 */
export function isDataError(error: unknown): boolean {
  return /^(Invalid Input|Conversion|Parser|Binder) Error$/.test(duckdbErrorKind(error));
}

/** A DuckDB error without its message, which may quote an event's values or field names. */
export function withoutData(error: unknown): Error {
  return new Error(
    `DuckDB ${duckdbErrorKind(error)} while writing Parquet (its message is not kept: it may quote an event)`,
  );
}

/**
 * The kind of a DuckDB error ("Conversion Error"), without the rest of its message. Read from
 * `message` whatever the error's class (an error from another realm, as under Jest, is no
 * `instanceof Error`).
 */
export function duckdbErrorKind(error: unknown): string {
  const message = (error as { message?: unknown } | undefined)?.message;
  const text = typeof message === 'string' ? message : String(error);
  return /^(?:Error: )?([A-Z][A-Za-z ]*? Error)\b/.exec(text)?.[1] ?? 'Error';
}
