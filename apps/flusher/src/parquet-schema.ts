/**
 * The Parquet schema of one generation, inferred from every one of its lines (not a sample: DuckDB
 * is then told each column's type, and a type a single line contradicts would fail the flush).
 *
 * - Each top-level field is a column, in the order the fields first appear.
 * - A field that is an object or an array in any line is a JSON column: event properties and
 *   context differ by event and by client release, so typed structs would change shape from
 *   one generation to the next, and Athena cannot read a struct whose fields changed between
 *   files; a JSON column stays one type, and both read its fields with a JSON path.
 * - Scalars: only booleans is BOOLEAN; only integers is BIGINT; integers and decimals is DOUBLE;
 *   anything else mixed is VARCHAR (a number is then its JSON text); only nulls is VARCHAR.
 * - The time fields (TIME_FIELDS) are TIMESTAMPTZ (Parquet's UTC timestamp) when every value
 *   is an ISO 8601 time DuckDB reads; a generation with one that is not keeps them VARCHAR.
 * - When the fields cannot all be columns (two differ only in case, which a SQL engine cannot
 *   tell apart; an empty name; more than MAX_COLUMNS), the generation is one JSON column,
 *   `_event`, holding each whole event: nothing is dropped.
 */

export type ColumnType = 'BOOLEAN' | 'BIGINT' | 'DOUBLE' | 'VARCHAR' | 'TIMESTAMPTZ' | 'JSON';

export type ParquetSchema =
  | { kind: 'columns'; columns: Array<{ name: string; type: ColumnType }> }
  | { kind: 'whole-event'; reason: string };

/** The fields read as timestamps: the ingest's `receivedAt`, and Segment's times. */
export const TIME_FIELDS: ReadonlySet<string> = new Set([
  'receivedAt',
  'timestamp',
  'sentAt',
  'originalTimestamp',
]);

/** More top-level fields than this in one generation make it one `_event` column. */
export const MAX_COLUMNS = 1000;

/** The column of a generation written whole, one JSON value per event. */
export const WHOLE_EVENT_COLUMN = '_event';

const NULL = 1;
const BOOLEAN = 2;
const INTEGER = 4;
const DECIMAL = 8;
const STRING = 16;
const NESTED = 32;
/** Set for a string that is not a time DuckDB reads as TIMESTAMPTZ. */
const NOT_TIME = 64;

const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}(:?\d{2})?)?$/;
const INT64_LIMIT = 2 ** 63;

/** A time DuckDB's TIMESTAMPTZ takes as it is: an ISO 8601 date and time that exists. */
export function isIsoTime(text: string): boolean {
  const match = ISO_TIME.exec(text);
  if (!match) return false;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return (
    year >= 1 && days !== undefined && day >= 1 && day <= days && hour < 24 && minute < 60 && second < 60
  );
}

function kindOf(value: unknown, timeField: boolean): number {
  if (value === null) return NULL;
  switch (typeof value) {
    case 'boolean':
      return BOOLEAN;
    case 'number':
      return Number.isInteger(value) && Math.abs(value) < INT64_LIMIT ? INTEGER : DECIMAL;
    case 'string':
      return timeField && !isIsoTime(value) ? STRING | NOT_TIME : STRING;
    default:
      return NESTED;
  }
}

function typeOf(kinds: number, timeField: boolean): ColumnType {
  if (kinds & NESTED) return 'JSON';
  const scalars = kinds & ~NULL & ~NOT_TIME;
  if (scalars === STRING && timeField && !(kinds & NOT_TIME)) return 'TIMESTAMPTZ';
  if (scalars === BOOLEAN) return 'BOOLEAN';
  if (scalars === INTEGER) return 'BIGINT';
  if (scalars === DECIMAL || scalars === (INTEGER | DECIMAL)) return 'DOUBLE';
  return 'VARCHAR';
}

/** Builds a generation's schema from its lines, as they are read. */
export class SchemaBuilder {
  private readonly kinds = new Map<string, number>();
  private readonly lowerCaseNames = new Set<string>();
  private unusable: string | undefined;

  /** One line of NDJSON: a JSON object (the ingest stores nothing else). */
  addLine(line: string): void {
    if (this.unusable) return;
    const event = JSON.parse(line) as Record<string, unknown>;
    for (const name in event) {
      const kind = kindOf(event[name], TIME_FIELDS.has(name));
      const known = this.kinds.get(name);
      if (known === undefined) this.addColumn(name, kind);
      else if ((known | kind) !== known) this.kinds.set(name, known | kind);
    }
  }

  private addColumn(name: string, kind: number): void {
    if (this.unusable) return;
    const lower = name.toLowerCase();
    if (name === '') this.unusable = 'a field with an empty name';
    else if (this.lowerCaseNames.has(lower)) this.unusable = 'two fields whose names differ only in case';
    else if (this.kinds.size >= MAX_COLUMNS) this.unusable = `more than ${MAX_COLUMNS} fields`;
    if (this.unusable) {
      this.kinds.clear();
      return;
    }
    this.lowerCaseNames.add(lower);
    this.kinds.set(name, kind);
  }

  result(): ParquetSchema {
    if (this.unusable) return { kind: 'whole-event', reason: this.unusable };
    return {
      kind: 'columns',
      columns: [...this.kinds].map(([name, kinds]) => ({ name, type: typeOf(kinds, TIME_FIELDS.has(name)) })),
    };
  }
}

/** The same columns, each JSON: reads any value (the fallback when DuckDB refuses a typed value). */
export function asJsonColumns(schema: ParquetSchema): ParquetSchema {
  if (schema.kind === 'whole-event') return schema;
  return { kind: 'columns', columns: schema.columns.map(({ name }) => ({ name, type: 'JSON' })) };
}
