/**
 * The top-level fields of a line of JSON and the kind of each value, read straight from its
 * bytes. Parquet's schema needs only that, from every line of a generation; `JSON.parse` of a
 * 256 MiB generation builds every nested object too, which took 2.4 s and left some 100 MiB of
 * garbage to the collector (docs/output.md), where this scan takes a fraction and allocates only
 * the field names it has not seen. The line must be valid JSON (the ingest stores nothing else);
 * on anything else the scan ends early or reports kinds that do not matter, and never throws.
 */

/** A value's kind, as a bit (a field's kinds over a generation are OR-ed together). */
export const ValueKind = {
  Null: 1,
  Boolean: 2,
  Integer: 4,
  Decimal: 8,
  String: 16,
  Nested: 32,
} as const;
export type ValueKind = (typeof ValueKind)[keyof typeof ValueKind];

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;

/** The largest BIGINT, as digits: a 19-digit integer above it is a DOUBLE. */
const INT64_MAX_DIGITS = Buffer.from('9223372036854775807');
/** The smallest BIGINT's digits: one more than the largest's, since −2^63 is a BIGINT. */
const INT64_MIN_DIGITS = Buffer.from('9223372036854775808');

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * The index just after the string that opens at `at` (a quote). A JS loop: most strings are a
 * few dozen bytes, where a native `indexOf` per string cost more than it saved.
 */
function skipString(line: Buffer, at: number, end: number): number {
  for (let i = at + 1; i < end; i += 1) {
    const byte = line[i];
    if (byte === QUOTE) return i + 1;
    if (byte === BACKSLASH) i += 1; // the escaped byte (\" \\ \u…) is not the end
  }
  return end;
}

/** The index just after the object or array that opens at `at`. */
function skipNested(line: Buffer, at: number, end: number): number {
  let depth = 0;
  for (let i = at; i < end; i += 1) {
    const byte = line[i];
    if (byte === QUOTE) i = skipString(line, i, end) - 1;
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth += 1;
    else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth -= 1;
      if (depth === 0) return i + 1;
    }
  }
  return end;
}

function numberKind(line: Buffer, start: number, stop: number): ValueKind {
  let digits = start;
  if (line[digits] === MINUS) digits += 1;
  for (let i = digits; i < stop; i += 1) {
    const byte = line[i];
    if (byte === 0x2e || byte === 0x65 || byte === 0x45) return ValueKind.Decimal; // . e E
  }
  const count = stop - digits;
  if (count < 19) return ValueKind.Integer;
  if (count > 19) return ValueKind.Decimal;
  const bound = digits > start ? INT64_MIN_DIGITS : INT64_MAX_DIGITS;
  return line.compare(bound, 0, 19, digits, stop) <= 0 ? ValueKind.Integer : ValueKind.Decimal;
}

/** Whether `line[start, stop)` holds `bytes` (a JS loop: names are short, and a native call costs more). */
function sameBytes(bytes: Buffer, line: Buffer, start: number, stop: number): boolean {
  if (bytes.length !== stop - start) return false;
  for (let i = 0; i < bytes.length; i += 1) if (bytes[i] !== line[start + i]) return false;
  return true;
}

/**
 * The names a FieldNames keeps. Past them, a new name is made each time it is read: a client that
 * sends a field name of its own in each event (a user id or a UUID as a key) held some 270 bytes a
 * name for the whole generation, 86 MiB for one of 30 MiB (a review's run), where usual events
 * use a few hundred names.
 */
export const MAX_KEPT_FIELD_NAMES = 4096;

/** Field names by their bytes, so that a name seen before costs no new string (the first MAX_KEPT_FIELD_NAMES). */
export class FieldNames {
  private readonly byHash = new Map<number, Array<{ bytes: Buffer; name: string }>>();
  private kept = 0;

  /** How many names it keeps. */
  get size(): number {
    return this.kept;
  }

  get(line: Buffer, start: number, stop: number): string {
    let hash = 0x811c9dc5;
    for (let i = start; i < stop; i += 1) hash = Math.imul(hash ^ (line[i] as number), 0x01000193);
    const bucket = this.byHash.get(hash);
    const found = bucket?.find(({ bytes }) => sameBytes(bytes, line, start, stop));
    if (found) return found.name;
    const raw = line.subarray(start, stop);
    // A name with an escape (\" \u0041) is decoded by the JSON parser; others are UTF-8 as they are.
    const name = raw.includes(BACKSLASH)
      ? (JSON.parse(`"${raw.toString('utf8')}"`) as string)
      : raw.toString('utf8');
    if (this.kept === MAX_KEPT_FIELD_NAMES) return name;
    this.kept += 1;
    const entry = { bytes: Buffer.from(raw), name };
    if (bucket) bucket.push(entry);
    else this.byHash.set(hash, [entry]);
    return name;
  }
}

/**
 * Calls `visit` for each top-level field of the JSON object in `line[start, end)`, with its
 * name, its kind, and the bounds of its value (a string's without its quotes).
 */
export function scanTopLevel(
  line: Buffer,
  start: number,
  end: number,
  names: FieldNames,
  visit: (name: string, kind: ValueKind, valueStart: number, valueEnd: number) => void,
): void {
  let i = start;
  while (i < end && line[i] !== OPEN_BRACE) i += 1;
  i += 1;
  while (i < end) {
    while (i < end && (isSpace(line[i]) || line[i] === COMMA)) i += 1;
    if (i >= end || line[i] !== QUOTE) return; // `}`: the object's end
    const nameEnd = skipString(line, i, end);
    const name = names.get(line, i + 1, nameEnd - 1);
    i = nameEnd;
    while (i < end && (isSpace(line[i]) || line[i] === COLON)) i += 1;
    const first = line[i];
    const valueStart = i;
    if (first === QUOTE) {
      i = skipString(line, i, end);
      visit(name, ValueKind.String, valueStart + 1, i - 1);
    } else if (first === OPEN_BRACE || first === OPEN_BRACKET) {
      i = skipNested(line, i, end);
      visit(name, ValueKind.Nested, valueStart, i);
    } else {
      while (i < end && line[i] !== COMMA && line[i] !== CLOSE_BRACE && !isSpace(line[i])) i += 1;
      const kind =
        first === 0x6e
          ? ValueKind.Null
          : first === 0x74 || first === 0x66
            ? ValueKind.Boolean
            : numberKind(line, valueStart, i);
      visit(name, kind, valueStart, i);
    }
  }
}
