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

const MiB = 1024 * 1024;

/** DuckDB's own buffers for a COPY of small row groups; what it cannot fit spills to disk (temp_directory). */
const MEMORY_LIMIT_BYTES = 96 * 1000 * 1000;

/**
 * DuckDB's memory for a COPY whose row groups hold about `rowGroupBytes` of NDJSON. The Parquet
 * writer holds a whole row group, and a group has at least 2,048 rows (DuckDB's vector), so
 * events of some 16 KiB and more make groups past what 96 MB holds: measured, 1,144 events of
 * 29 KB (one 32 MB group) failed at 96 and 128 MB and passed at 144. Such a COPY gets 64 MiB and
 * three times its group, else it ran out of memory on every retry and the stream's generations
 * waited for ever (docs/output.md#parquet).
 */
export function memoryLimitFor(rowGroupBytes: number): number {
  return Math.max(MEMORY_LIMIT_BYTES, 64 * MiB + 3 * rowGroupBytes);
}

/**
 * What a COPY that ran out of memoryLimitFor's memory with its columns gets once more, before its
 * lines are written as text: groups of many JSON values (an array of 400 integers in each 2 KiB
 * event: 2,048 rows of 4 MB of NDJSON) ran out of 96 MB and passed at 128 (a review's run).
 * Within what PARQUET_BYTES counts, measured (docs/output.md#parquet).
 */
export function moreMemoryFor(rowGroupBytes: number): number {
  return memoryLimitFor(rowGroupBytes) + 48 * MiB;
}

/**
 * The dictionary page DuckDB's Parquet writer keeps for each text column (1 MB by default): with
 * the default, some 60 text columns of a few thousand rows needed 60 MiB more than the COPY's
 * memory, and every such generation ran out of it and was written as text lines, its columns
 * lost (a review's run: 60 string fields × 3,000 events). A column whose dictionary outgrows this
 * is written plain.
 */
const STRING_DICTIONARY_PAGE_BYTES = 64 * 1024;

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
async function withDuckdb<T>(
  spill: string,
  work: (connection: DuckDBConnection) => Promise<T>,
  memoryBytes = MEMORY_LIMIT_BYTES,
): Promise<T> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', {
    threads: '1',
    memory_limit: `${Math.ceil(memoryBytes / MiB)}MiB`,
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

/** A column's name in SQL: any name, quoted (a field name may hold quotes, dots, anything). */
function identifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export interface CopyToParquet {
  /** Files of NDJSON, read in order as one: the generation as staged (StagedFiles). */
  inputs: string[];
  output: string;
  /** Where DuckDB may spill what its memory limit cannot hold (a directory it may create). */
  spill: string;
  schema: ParquetSchema;
  rowGroupRows: number;
  /** About how much NDJSON a row group holds: what DuckDB's memory is sized by (memoryLimitFor). */
  rowGroupBytes: number;
  /** DuckDB's memory, where not memoryLimitFor(rowGroupBytes): a second try (moreMemoryFor). */
  memoryBytes?: number;
  /**
   * The longest line's size bound, in bytes (DuckDB refuses longer JSON values): the staged
   * generation's, or for `lines` the longest text line writeTextLines wrote.
   */
  maxLineBytes: number;
}

/**
 * The query that reads the staged generation with its schema (docs/output.md#parquet): JSON
 * columns are read as DuckDB's JSON, so a string among objects is its JSON (`"none"`), and
 * written as VARCHAR, not as Parquet's JSON type.
 */
export function selectStatement(copy: CopyToParquet): string {
  const { schema } = copy;
  if (schema.kind === 'lines') {
    // Each line as text, beside the server's two fields, given as their JSON text (writeTextLines):
    // a value DuckDB cannot read is NULL rather than a failed flush.
    const decoded = (column: string) =>
      `CASE WHEN json_valid(${column}) THEN json_extract_string(${column}, '$') END`;
    return (
      `SELECT ${identifier(WHOLE_EVENT_COLUMN)}, ${decoded('"_messageId"')} AS "messageId", ` +
      `TRY_CAST(${decoded('"_receivedAt"')} AS TIMESTAMPTZ) AS "receivedAt" FROM ${readStatement(copy)}`
    );
  }
  if (schema.kind === 'whole-event') {
    // The server's fields as columns beside the whole event, so the queries every generation
    // answers (count(DISTINCT messageId), max(receivedAt)) count these rows too. Read from JSON
    // that read_ndjson has parsed; a receivedAt that is no time (a buffer the ingest did not
    // write) is NULL rather than a failed flush.
    const event = identifier(WHOLE_EVENT_COLUMN);
    return (
      `SELECT ${event}, json_extract_string(${event}, '$.messageId') AS "messageId", ` +
      `TRY_CAST(json_extract_string(${event}, '$.receivedAt') AS TIMESTAMPTZ) AS "receivedAt" ` +
      `FROM ${readStatement(copy)}`
    );
  }
  const json = schema.kind === 'columns' ? schema.columns.filter(({ type }) => type === 'JSON') : [];
  const replace =
    json.length === 0
      ? ''
      : ` REPLACE (${json.map(({ name }) => `CAST(${identifier(name)} AS VARCHAR) AS ${identifier(name)}`).join(', ')})`;
  return `SELECT *${replace} FROM ${readStatement(copy)}`;
}

/** The call that reads the staged generation with its schema (docs/output.md#parquet). */
export function readStatement({ inputs, schema, maxLineBytes }: CopyToParquet): string {
  const files = `[${inputs.map(literal).join(', ')}]`;
  const objectBytes = Math.max(1024 * 1024, maxLineBytes + 1024);
  if (schema.kind === 'lines') {
    // The lines of writeTextLines, parsing nothing: three fields, split at 0x01, and only a field
    // holding 0x01 or 0x02 quoted (which JSON text never holds raw). maxLineBytes is then the
    // longest text line's.
    const columns = ['_messageId', '_receivedAt', WHOLE_EVENT_COLUMN].map(
      (name) => `${literal(name)}: 'VARCHAR'`,
    );
    return (
      `read_csv(${files}, columns = {${columns.join(', ')}}, header = false, ` +
      `delim = E'\\x01', quote = E'\\x02', escape = E'\\x02', auto_detect = false, new_line = '\\n', ` +
      // An empty line's quoted empty text is '', not NULL: only an unquoted empty field is NULL.
      'allow_quoted_nulls = false, ' +
      // Its buffer is 16 lines' bound by default: a text line of 6 MiB asked 112 MiB, past the
      // COPY's memory, on every retry. Two lines' bound reads any line (measured: 30 MiB in 96).
      `max_line_size = ${objectBytes}, buffer_size = ${Math.max(16 * 1024 * 1024, 2 * objectBytes)})`
    );
  }
  const columns =
    schema.kind === 'columns'
      ? schema.columns.map(({ name, type }) => `${literal(name)}: ${literal(type)}`).join(', ')
      : `${literal(WHOLE_EVENT_COLUMN)}: 'VARCHAR'`;
  const records = schema.kind === 'columns' ? 'true' : 'false';
  return `read_ndjson(${files}, columns = {${columns}}, records = ${records}, maximum_object_size = ${objectBytes})`;
}

/**
 * Writes the staged generation as one Parquet file (zstd columns, row groups of `rowGroupRows`)
 * and resolves with the rows it wrote.
 */
export function copyToParquet(copy: CopyToParquet): Promise<number> {
  const run = turn.then(() =>
    withDuckdb(
      copy.spill,
      async (connection) => {
        const result = await connection.run(
          `COPY (${selectStatement(copy)}) TO ${literal(copy.output)} ` +
            `(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${copy.rowGroupRows}, ` +
            `STRING_DICTIONARY_PAGE_SIZE_LIMIT ${STRING_DICTIONARY_PAGE_BYTES})`,
        );
        return Number(result.rowsChanged);
      },
      copy.memoryBytes ?? memoryLimitFor(copy.rowGroupBytes),
    ),
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
 * Calls `onId` with each row's messageId, and resolves with the rows read (the loadtest's
 * read-back, which counts every event by its id). The id is the `messageId` column's; where that
 * is missing or NULL (a file of whole events as text, `_event`), the one in the event's JSON.
 * Streams the rows: an object of millions of events is never held whole.
 */
export function eachParquetMessageId(file: string, onId: (id: string | undefined) => void): Promise<number> {
  return withDuckdb(`${file}.spill`, async (connection) => {
    const source = `read_parquet(${literal(file)})`;
    const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
    const names = new Set(described.getRows().map((row) => String(row[0])));
    const event = identifier(WHOLE_EVENT_COLUMN);
    const columns = names.has('messageId')
      ? `"messageId", ${names.has(WHOLE_EVENT_COLUMN) ? `CASE WHEN "messageId" IS NULL THEN ${event} END` : 'NULL'}`
      : names.has(WHOLE_EVENT_COLUMN)
        ? `NULL, ${event}`
        : undefined;
    if (!columns) throw new Error(`${file} has neither a messageId nor an ${WHOLE_EVENT_COLUMN} column`);
    const result = await connection.stream(`SELECT ${columns} FROM ${source}`);
    let rows = 0;
    for await (const batch of result.yieldRows()) {
      for (const [id, whole] of batch) {
        rows += 1;
        if (typeof id === 'string') onId(id);
        else onId(typeof whole === 'string' ? messageIdOf(whole) : undefined);
      }
    }
    return rows;
  });
}

/** The messageId of an event's JSON text, if it has one that is a string (the read-backs' rule). */
export function messageIdOf(event: string): string | undefined {
  try {
    const id = (JSON.parse(event) as { messageId?: unknown }).messageId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
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

/**
 * Whether DuckDB ran out of memory: a generation of hundreds of typed columns does (the writer
 * keeps buffers per column: 200 text columns of 2,048 rows passed 96 MB, measured), and one
 * column of the events as text may still fit.
 */
export function isOutOfMemory(error: unknown): boolean {
  return duckdbErrorKind(error) === 'Out of Memory Error';
}

/**
 * The operating system's reasons an IO Error may end with: said, as they quote nothing of an
 * event. A disk that filled as DuckDB wrote the file was told only as "IO Error", where the
 * runbook looks for the disk (a review's run).
 */
const SYSTEM_REASONS =
  /: (No space left on device|Disk quota exceeded|Read-only file system|Permission denied|Input\/output error|Too many open files|File too large)$/;

/**
 * A DuckDB error without its message, which may quote an event's values or field names; an IO
 * Error keeps its operating system's reason (SYSTEM_REASONS).
 */
export function withoutData(error: unknown): Error {
  const kind = duckdbErrorKind(error);
  const message = String((error as { message?: unknown } | undefined)?.message ?? error);
  const reason = kind === 'IO Error' ? SYSTEM_REASONS.exec(message)?.[1] : undefined;
  return new Error(
    `DuckDB ${kind} while writing Parquet${reason ? `: ${reason}` : ''} (${reason ? 'the rest of ' : ''}its message is not kept: it may quote an event)`,
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
