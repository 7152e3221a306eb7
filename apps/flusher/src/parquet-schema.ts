import { isIsoTimeAt } from './iso-time.js';
import { FieldNames, scanTopLevel, ValueKind } from './top-level-fields.js';

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

/** Set for a time field's string that is not a time DuckDB reads as TIMESTAMPTZ. */
const NOT_TIME = 64;

function typeOf(kinds: number, timeField: boolean): ColumnType {
  if (kinds & ValueKind.Nested) return 'JSON';
  const scalars = kinds & ~ValueKind.Null & ~NOT_TIME;
  if (scalars === ValueKind.String && timeField && !(kinds & NOT_TIME)) return 'TIMESTAMPTZ';
  if (scalars === ValueKind.Boolean) return 'BOOLEAN';
  if (scalars === ValueKind.Integer) return 'BIGINT';
  if (scalars === ValueKind.Decimal || scalars === (ValueKind.Integer | ValueKind.Decimal)) return 'DOUBLE';
  return 'VARCHAR';
}

/** Builds a generation's schema from its lines, as they are read. */
export class SchemaBuilder {
  private readonly kinds = new Map<string, number>();
  private readonly lowerCaseNames = new Set<string>();
  private unusable: string | undefined;

  private readonly names = new FieldNames();

  /** One line of NDJSON, `line[start, end)`: a JSON object (the ingest stores nothing else). */
  addLine(line: Buffer, start = 0, end = line.length): void {
    if (this.unusable) return;
    scanTopLevel(line, start, end, this.names, (name, kind, valueStart, valueEnd) => {
      let kinds: number = kind;
      if (kind === ValueKind.String && TIME_FIELDS.has(name) && !isIsoTimeAt(line, valueStart, valueEnd)) {
        kinds |= NOT_TIME;
      }
      const known = this.kinds.get(name);
      if (known === undefined) this.addColumn(name, kinds);
      else if ((known | kinds) !== known) this.kinds.set(name, known | kinds);
    });
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
