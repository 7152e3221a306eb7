import { isIsoTimeAt } from './iso-time.js';
import { FieldNames, scanTopLevel, ValueKind } from './top-level-fields.js';

/**
 * The Parquet schema of one generation, inferred from every one of its lines (not a sample: DuckDB
 * is then told each column's type, and a type a single line contradicts would fail the flush).
 *
 * - Each top-level field is a column, in the order the fields first appear.
 * - A field that is an object or an array in any line is a column of JSON text (`JSON` here: read
 *   as DuckDB's JSON, written as VARCHAR): event properties and context differ by event and by
 *   client release, so typed structs would change shape from one generation to the next, and
 *   Athena cannot read a struct whose fields changed between files; text stays one type, and both
 *   read its fields with a JSON path. Every value of it is JSON, a string in another line too
 *   (`"none"`, quoted): a JSON path over the column then never meets text it cannot parse. Not
 *   Parquet's JSON logical type: DuckDB reads files together (union_by_name) by casting a column to
 *   one type, and a generation where the field was only plain text ("hello") does not cast to JSON.
 * - Scalars: only booleans is BOOLEAN; only integers is BIGINT; integers and decimals is DOUBLE;
 *   anything else mixed is VARCHAR (a number is then DuckDB's text of it). A field that is null (or
 *   missing) in every line has no column: readers take a missing column as null, and a sparse
 *   field does not flip to VARCHAR in the generations where it happens to be null.
 * - The time fields (TIME_FIELDS, in any case) are TIMESTAMPTZ (Parquet's UTC timestamp) when
 *   every value is an ISO 8601 time DuckDB reads; a generation with one that is not (a number
 *   included) keeps them VARCHAR.
 * - When the fields cannot all be columns (two differ only in case, which a SQL engine cannot
 *   tell apart; a name that is empty, holds a NUL or is not well-formed Unicode, which DuckDB
 *   would not match to its key; more than MAX_COLUMNS; no field with a value), the generation
 *   is one VARCHAR column, `_event`, holding each whole event's JSON: nothing is dropped.
 * - The last resort, `lines` (see ParquetStage), is each line as text in `_event`: for what
 *   DuckDB cannot parse as JSON at all (a lone UTF-16 surrogate escape in a string, which
 *   JavaScript accepts and DuckDB refuses).
 */

/** `JSON`: each value's JSON text, written as a VARCHAR column (readStatement casts it). */
export type ColumnType = 'BOOLEAN' | 'BIGINT' | 'DOUBLE' | 'VARCHAR' | 'TIMESTAMPTZ' | 'JSON';

export type ParquetSchema =
  | { kind: 'columns'; columns: Array<{ name: string; type: ColumnType }> }
  | { kind: 'whole-event'; reason: string }
  | { kind: 'lines' };

/**
 * The fields read as timestamps: the ingest's `receivedAt`, and Segment's times; matched without
 * regard to case, as DuckDB's union_by_name matches columns: a `Timestamp` of numbers in one
 * generation would be read with a `timestamp` of times in another, and BIGINT cannot be cast to
 * TIMESTAMPTZ.
 */
const TIME_FIELDS: ReadonlySet<string> = new Set(['receivedat', 'timestamp', 'sentat', 'originaltimestamp']);

/** More top-level fields than this in one generation make it one `_event` column. */
export const MAX_COLUMNS = 1000;

/** The column of a generation written whole, each event's JSON text. */
export const WHOLE_EVENT_COLUMN = '_event';

/** Set for a time field's string that is not a time DuckDB reads as TIMESTAMPTZ. */
const NOT_TIME = 64;

function typeOf(kinds: number, timeField: boolean): ColumnType {
  if (kinds & ValueKind.Nested) return 'JSON';
  const scalars = kinds & ~ValueKind.Null & ~NOT_TIME;
  // A time field is a time or text, never a number or a boolean (epoch milliseconds, say): DuckDB's
  // union_by_name cannot read a BIGINT generation of it with a TIMESTAMPTZ one; text reads with both.
  if (timeField) return scalars === ValueKind.String && !(kinds & NOT_TIME) ? 'TIMESTAMPTZ' : 'VARCHAR';
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
  /** Whether each name seen is a time field: its lower case made once, not for every value. */
  private readonly timeFields = new Map<string, boolean>();

  private isTimeField(name: string): boolean {
    let timeField = this.timeFields.get(name);
    if (timeField === undefined) {
      timeField = TIME_FIELDS.has(name.toLowerCase());
      this.timeFields.set(name, timeField);
    }
    return timeField;
  }

  /** One line of NDJSON, `line[start, end)`: a JSON object (the ingest stores nothing else). */
  addLine(line: Buffer, start = 0, end = line.length): void {
    if (this.unusable) return;
    scanTopLevel(line, start, end, this.names, (name, kind, valueStart, valueEnd) => {
      let kinds: number = kind;
      if (kind === ValueKind.String && this.isTimeField(name) && !isIsoTimeAt(line, valueStart, valueEnd)) {
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
    else if (name.includes('\u0000') || !name.isWellFormed()) {
      this.unusable = 'a field name with a NUL or a lone surrogate';
    } else if (this.lowerCaseNames.has(lower)) this.unusable = 'two fields whose names differ only in case';
    else if (lower === WHOLE_EVENT_COLUMN) {
      // A client's own `_event` column would be read with Spool's whole events of other
      // generations as one column (union_by_name): such a generation is written whole too.
      this.unusable = `a field named ${name}, the name of the whole event's column`;
    } else if (this.kinds.size >= MAX_COLUMNS) this.unusable = `more than ${MAX_COLUMNS} fields`;
    if (this.unusable) {
      this.kinds.clear();
      return;
    }
    this.lowerCaseNames.add(lower);
    this.kinds.set(name, kind);
  }

  result(): ParquetSchema {
    if (this.unusable) return { kind: 'whole-event', reason: this.unusable };
    const columns = [...this.kinds]
      .filter(([, kinds]) => kinds !== ValueKind.Null)
      .map(([name, kinds]) => ({ name, type: typeOf(kinds, this.isTimeField(name)) }));
    if (columns.length === 0) return { kind: 'whole-event', reason: 'no field with a value' };
    return { kind: 'columns', columns };
  }
}

/**
 * What to try, in order, to write a generation: its schema; then (typed columns only) the same
 * columns each VARCHAR (JSON ones kept: both read any JSON value; VARCHAR a string as itself,
 * anything else as its JSON); then each line as text, which parses nothing.
 */
export function schemaAttempts(schema: ParquetSchema): ParquetSchema[] {
  if (schema.kind !== 'columns') return [schema, { kind: 'lines' }];
  const asText: ParquetSchema = {
    kind: 'columns',
    columns: schema.columns.map(({ name, type }) => ({ name, type: type === 'JSON' ? 'JSON' : 'VARCHAR' })),
  };
  return [schema, asText, { kind: 'lines' }];
}
