import { isIsoTimeAt } from './iso-time.js';
import { WHOLE_EVENT_COLUMN } from './parquet-schema.js';
import { type FieldNames, scanTopLevel, ValueKind } from './top-level-fields.js';

/**
 * How the staged line of an event kept whole starts. A line whose fields are columns never starts
 * so: `_event` is never a column of the client's (SchemaBuilder keeps such an event whole).
 */
export const WHOLE_EVENT_LINE_START = Buffer.from(`{${JSON.stringify(WHOLE_EVENT_COLUMN)}:`);

/** The server's fields of an event kept whole, as JSON text; absent when it has none DuckDB reads. */
export interface ServerFields {
  messageId?: string;
  receivedAt?: string;
}

/**
 * An event kept whole (SchemaBuilder.addLine said false) as the line staged in its place, in the
 * generation's order: `{"_event":<its text, a JSON string>,"messageId":…,"receivedAt":…}\n`.
 * DuckDB reads `_event` as a string, never parsing the event: its text lands byte for byte (bytes
 * that are no UTF-8 as U+FFFD, as DuckDB takes no others), whatever JSON it holds (numbers of any
 * precision, escapes, a lone surrogate). Beside it the server's two fields, read from its top level,
 * so queries that count every generation's rows by them count it too: a messageId that is a string,
 * a receivedAt that is a time DuckDB reads (another would fail the typed read; it is left out).
 */
export function wholeEventLine(line: Buffer, start: number, end: number, names: FieldNames): Buffer {
  const fields = serverFieldsOf(line, start, end, names);
  let text = `${WHOLE_EVENT_LINE_START}${JSON.stringify(line.toString('utf8', start, end))}`;
  if (fields.messageId !== undefined) text += `,"messageId":${JSON.stringify(fields.messageId)}`;
  if (fields.receivedAt !== undefined) text += `,"receivedAt":${JSON.stringify(fields.receivedAt)}`;
  return Buffer.from(`${text}}\n`);
}

/** The line an event kept whole was staged from, and its server fields (the text-lines fallback). */
export function unwrapWholeEventLine(
  staged: Buffer,
  start: number,
  end: number,
): { line: Buffer } & ServerFields {
  const wrapper = JSON.parse(staged.toString('utf8', start, end)) as Record<string, unknown>;
  return {
    line: Buffer.from(String(wrapper[WHOLE_EVENT_COLUMN])),
    messageId: typeof wrapper.messageId === 'string' ? wrapper.messageId : undefined,
    receivedAt: typeof wrapper.receivedAt === 'string' ? wrapper.receivedAt : undefined,
  };
}

/** Whether the staged line `staged[start, end)` is an event kept whole. */
export function isWholeEventLine(staged: Buffer, start: number, end: number): boolean {
  return (
    end - start > WHOLE_EVENT_LINE_START.length &&
    staged.subarray(start, start + WHOLE_EVENT_LINE_START.length).equals(WHOLE_EVENT_LINE_START)
  );
}

/** The top-level messageId and receivedAt of a line, each a string DuckDB takes as it is typed. */
function serverFieldsOf(line: Buffer, start: number, end: number, names: FieldNames): ServerFields {
  const fields: ServerFields = {};
  try {
    scanTopLevel(line, start, end, names, (name, kind, valueStart, valueEnd) => {
      if (kind !== ValueKind.String) return;
      if (name === 'messageId') fields.messageId = stringValue(line, valueStart, valueEnd);
      else if (name === 'receivedAt' && isIsoTimeAt(line, valueStart, valueEnd)) {
        fields.receivedAt = stringValue(line, valueStart, valueEnd);
      }
    });
  } catch {
    // Not JSON (a name with a bad escape, in a buffer the ingest did not write): no server fields.
    return {};
  }
  return fields;
}

/** A JSON string's value, `line[valueStart, valueEnd)` between its quotes; undefined unless well-formed text. */
function stringValue(line: Buffer, valueStart: number, valueEnd: number): string | undefined {
  try {
    const value = JSON.parse(line.toString('utf8', valueStart - 1, valueEnd + 1)) as unknown;
    return typeof value === 'string' && value.isWellFormed() ? value : undefined;
  } catch {
    return undefined;
  }
}
