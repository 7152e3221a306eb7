import { isIsoTimeAt } from './iso-time.js';
import { FieldNames, MAX_KEPT_FIELD_NAMES, scanTopLevel, ValueKind } from './top-level-fields.js';

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
 * - An event whose fields cannot all be columns (a name that differs only in case from a column
 *   an earlier event gave, which a SQL engine cannot tell apart; a name that is empty, holds a
 *   NUL or is not well-formed Unicode, which DuckDB would not match to its key; `_event`; one
 *   field past MAX_COLUMNS; a name that is no JSON string; no field with a value at all) is kept
 *   whole: its text in one more VARCHAR column, `_event`, null in the other events' rows (and
 *   theirs null in its row, but for the server's `messageId` and `receivedAt`), none of its
 *   fields making or widening a column (whole-event-lines.ts). One client's odd event so costs
 *   the generation's other events nothing, and nothing is dropped.
 * - The last resort, `lines` (see ParquetStage), is each line as text in `_event`: for what
 *   DuckDB cannot parse as JSON at all (a lone UTF-16 surrogate escape in a string, which
 *   JavaScript accepts and DuckDB refuses).
 */

/** `JSON`: each value's JSON text, written as a VARCHAR column (readStatement casts it). */
export type ColumnType = 'BOOLEAN' | 'BIGINT' | 'DOUBLE' | 'VARCHAR' | 'TIMESTAMPTZ' | 'JSON';

export type ParquetSchema =
  | {
      kind: 'columns';
      columns: Array<{ name: string; type: ColumnType }>;
      /** Events written whole in `_event` beside the columns, and why the first was. */
      wholeEvents?: { count: number; reason: string };
    }
  /** One `_event` column: SchemaBuilder gives it only for a generation of no events. */
  | { kind: 'whole-event'; reason: string }
  | { kind: 'lines' };

/**
 * The fields read as timestamps: the ingest's `receivedAt`, and Segment's times; matched without
 * regard to case, as DuckDB's union_by_name matches columns: a `Timestamp` of numbers in one
 * generation would be read with a `timestamp` of times in another, and BIGINT cannot be cast to
 * TIMESTAMPTZ.
 */
const TIME_FIELDS: ReadonlySet<string> = new Set(['receivedat', 'timestamp', 'sentat', 'originaltimestamp']);

/** More top-level fields than this in one generation: an event that would add one is kept whole. */
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

/** Why a field's name can be no column whatever its values, or undefined when it can be one. */
function nameProblem(name: string): string | undefined {
  if (name === '') return 'a field with an empty name';
  if (name.includes('\u0000') || !name.isWellFormed()) return 'a field name with a NUL or a lone surrogate';
  const lower = name.toLowerCase();
  // A client's own `_event` column would be read with Spool's whole events as one column.
  if (lower === WHOLE_EVENT_COLUMN) return `a field named ${name}, the name of the whole event's column`;
  // The server's fields, beside which an event kept whole is read: another case of them would
  // be a second column DuckDB cannot tell from theirs.
  const server = SERVER_FIELDS.get(lower);
  if (server !== undefined && server !== name)
    return `a field named ${name}, another case of the server's ${server}`;
  return undefined;
}

const SERVER_FIELDS = new Map([
  ['messageid', 'messageId'],
  ['receivedat', 'receivedAt'],
]);

/** Builds a generation's schema from its lines, as they are read. */
export class SchemaBuilder {
  private readonly kinds = new Map<string, number>();
  private readonly lowerCaseNames = new Set<string>();
  /** Events written whole (addLine said false), and why the first was. */
  private wholeEvents = 0;
  private firstReason: string | undefined;

  /**
   * What the line being read changes, applied once all of it proved usable: names new to the
   * generation and wider kinds of known ones, in order (a usual line, every name known and no
   * kind wider, changes nothing and allocates nothing). `lineProblem` is why it cannot be columns.
   */
  private readonly lineNames: string[] = [];
  private readonly lineKinds: number[] = [];
  /**
   * lineNames as a set; the names that become columns in the line being read (their first value
   * that is not null), and their lower case. Sets: looked up for every new name, a search of the
   * line's names made a line of a thousand new names a million steps (10 ms), and every such line
   * of a generation paid it again (a review's events of 1,001 fields held the flusher's event loop
   * 5 s at a time, past its probes' timeout).
   */
  private readonly lineNameSet = new Set<string>();
  private readonly lineColumns = new Set<string>();
  private readonly lineColumnCases = new Set<string>();
  private lineHasValue = false;
  private lineProblem: string | undefined;
  private line: Buffer = Buffer.alloc(0);

  private readonly names = new FieldNames();
  /** Whether each name seen is a time field: its lower case made once, not for every value. */
  private readonly timeFields = new Map<string, boolean>();

  private isTimeField(name: string): boolean {
    let timeField = this.timeFields.get(name);
    if (timeField === undefined) {
      timeField = TIME_FIELDS.has(name.toLowerCase());
      if (this.timeFields.size < MAX_KEPT_FIELD_NAMES) this.timeFields.set(name, timeField);
    }
    return timeField;
  }

  /**
   * One line of NDJSON, `line[start, end)`: a JSON object (the ingest stores nothing else).
   * Returns whether its fields are columns; false: the event is to be written whole, in `_event`.
   */
  addLine(line: Buffer, start = 0, end = line.length): boolean {
    this.line = line;
    this.lineNames.length = 0;
    this.lineKinds.length = 0;
    this.lineNameSet.clear();
    this.lineColumns.clear();
    this.lineColumnCases.clear();
    this.lineHasValue = false;
    this.lineProblem = undefined;
    try {
      scanTopLevel(line, start, end, this.names, this.visitField);
    } catch {
      // A name that is no JSON string (a bad escape, in a buffer the ingest did not write): the
      // line is kept whole, and as text if DuckDB cannot parse it either (ParquetStage).
      this.lineProblem = 'a field name that is not JSON';
    }
    // Nothing a column would hold (`{}`, every value null, a blank line): its text is what it is.
    if (!this.lineHasValue) this.lineProblem ??= 'no field with a value';
    if (this.lineProblem) {
      this.wholeEvents += 1;
      this.firstReason ??= this.lineProblem;
      return false;
    }
    for (let i = 0; i < this.lineNames.length; i++) {
      const name = this.lineNames[i] as string;
      this.kinds.set(name, (this.kinds.get(name) ?? 0) | (this.lineKinds[i] as number));
    }
    for (const lower of this.lineColumnCases) this.lowerCaseNames.add(lower);
    return true;
  }

  private readonly visitField = (
    name: string,
    kind: ValueKind,
    valueStart: number,
    valueEnd: number,
  ): void => {
    if (this.lineProblem) return;
    if (kind !== ValueKind.Null) this.lineHasValue = true;
    let kinds: number = kind;
    if (
      kind === ValueKind.String &&
      this.isTimeField(name) &&
      !isIsoTimeAt(this.line, valueStart, valueEnd)
    ) {
      kinds |= NOT_TIME;
    }
    const known = this.kinds.get(name);
    if (known !== undefined && (known | kinds) === known) return;
    // A name new to the generation, or one that was only ever null and now has a value (a
    // column only from then on: a null-only name neither takes a casing nor counts as a column).
    if (known === undefined && !this.lineNameSet.has(name)) {
      this.lineProblem = nameProblem(name);
      if (this.lineProblem) return;
      // A name only ever null is no column: past MAX_KEPT_FIELD_NAMES, one more is not remembered
      // (see it), and a value in a later line makes it a column as if it had been.
      if (kind === ValueKind.Null && this.kinds.size >= MAX_KEPT_FIELD_NAMES) return;
    }
    if (kind !== ValueKind.Null && !((known ?? 0) & ~ValueKind.Null) && !this.lineColumns.has(name)) {
      const lower = name.toLowerCase();
      this.lineProblem = this.newColumnProblem(lower);
      if (this.lineProblem) return;
      this.lineColumns.add(name);
      this.lineColumnCases.add(lower);
    }
    this.noteField(name, kinds);
  };

  private noteField(name: string, kinds: number): void {
    this.lineNames.push(name);
    this.lineKinds.push(kinds);
    this.lineNameSet.add(name);
  }

  /** Why a name about to become a column (its lower case given) cannot: its case taken, or no column left. */
  private newColumnProblem(lower: string): string | undefined {
    if (this.lowerCaseNames.has(lower) || this.lineColumnCases.has(lower)) {
      return 'two fields whose names differ only in case';
    }
    if (this.lowerCaseNames.size + this.lineColumnCases.size >= MAX_COLUMNS)
      return `more than ${MAX_COLUMNS} fields`;
    return undefined;
  }

  result(): ParquetSchema {
    const columns = [...this.kinds]
      .filter(([, kinds]) => kinds !== ValueKind.Null)
      .map(([name, kinds]) => ({ name, type: typeOf(kinds, this.isTimeField(name)) }));
    if (this.wholeEvents === 0) {
      return columns.length > 0 ? { kind: 'columns', columns } : { kind: 'whole-event', reason: 'no event' };
    }
    // The whole events' staged lines (whole-event-lines.ts): their text, and the server's fields.
    const has = (name: string) => columns.some((column) => column.name === name);
    if (!has('messageId')) columns.push({ name: 'messageId', type: 'VARCHAR' });
    if (!has('receivedAt')) columns.push({ name: 'receivedAt', type: 'TIMESTAMPTZ' });
    columns.push({ name: WHOLE_EVENT_COLUMN, type: 'VARCHAR' });
    return {
      kind: 'columns',
      columns,
      wholeEvents: { count: this.wholeEvents, reason: this.firstReason as string },
    };
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
    ...schema,
    columns: schema.columns.map(({ name, type }) => ({ name, type: type === 'JSON' ? 'JSON' : 'VARCHAR' })),
  };
  return [schema, asText, { kind: 'lines' }];
}
