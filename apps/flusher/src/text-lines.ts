import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { LineSplitter } from './line-splitter.js';
import { writeAll } from './scratch-dirs.js';
import { FieldNames, scanTopLevel, ValueKind } from './top-level-fields.js';
import { isWholeEventLine, unwrapWholeEventLine } from './whole-event-lines.js';

const NEWLINE = 0x0a;
/** Between the fields of a text line: JSON text never holds a raw 0x01 (JSON escapes it). */
const TEXT_LINE_DELIMITER = 0x01;
/**
 * Around a field holding either byte, or a CR (a line that is no JSON, in a buffer written by
 * hand), each 0x02 inside doubled: else its 0x01 would cut it into more fields than three, and
 * DuckDB takes a CR outside quotes for a line's end whatever `new_line` says; it refused the file
 * on every retry. JSON text never holds a raw 0x02 or CR in a value, so an event the ingest
 * stored is quoted only where a CR stands between its tokens (JSON whitespace).
 */
const TEXT_LINE_QUOTE = 0x02;
const CR = 0x0d;
const OUTPUT_BYTES = 1024 * 1024;
const EMPTY_QUOTED = Buffer.from([TEXT_LINE_QUOTE, TEXT_LINE_QUOTE]);

/**
 * Rewrites the staged generation for Parquet's last way of writing it, each line as text
 * (docs/output.md#parquet): `<messageId>\x01<receivedAt>\x01<line>`, the two server fields as the
 * JSON text of the line's top-level values (empty when it has none that is a string), read from
 * its bytes as the schema was. So the server's columns sit beside `_event` in that fallback as in
 * the others, and `count(DISTINCT messageId)` counts its rows: DuckDB parses nothing but the two
 * short values, where parsing the lines is what failed (JSON it refuses, or memory for hundreds of
 * fields). Streams the files: it holds one read (4 MiB) and the output of its lines. Resolves with
 * the longest text line's bytes, its newline left out (what DuckDB's line bound is set by).
 */
export async function writeTextLines(inputs: string[], output: string): Promise<number> {
  const out = await open(output, 'w');
  try {
    const names = new FieldNames();
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let longestLine = 0;
    const flush = async () => {
      await writeAll(out, Buffer.concat(pending, pendingBytes));
      pending = [];
      pendingBytes = 0;
    };
    /** One text line: its three fields, each quoted where it must be, and its newline. */
    const push = (messageId: Buffer | undefined, receivedAt: Buffer | undefined, text: Buffer) => {
      let lineBytes = 0;
      for (const part of [
        messageId && quoted(messageId),
        DELIMITER,
        receivedAt && quoted(receivedAt),
        DELIMITER,
        quoted(text),
      ]) {
        if (part) {
          pending.push(part);
          lineBytes += part.length;
        }
      }
      pending.push(END);
      pendingBytes += lineBytes + 1;
      if (lineBytes > longestLine) longestLine = lineBytes;
    };
    const addLine = (buffer: Buffer, start: number, end: number) => {
      if (end === start) return;
      if (isWholeEventLine(buffer, start, end)) {
        // An event kept whole, staged in its own form (whole-event-lines.ts): its own text here too.
        const whole = unwrapWholeEventLine(buffer, start, end);
        const json = (value: string | undefined) =>
          value === undefined ? undefined : Buffer.from(JSON.stringify(value));
        push(json(whole.messageId), json(whole.receivedAt), utf8(whole.line));
        return;
      }
      let messageId: Buffer | undefined;
      let receivedAt: Buffer | undefined;
      try {
        scanTopLevel(buffer, start, end, names, (name, kind, valueStart, valueEnd) => {
          if (kind !== ValueKind.String) return;
          // The value's JSON text, quotes and escapes included: DuckDB decodes it.
          if (name === 'messageId') messageId = buffer.subarray(valueStart - 1, valueEnd + 1);
          else if (name === 'receivedAt') receivedAt = buffer.subarray(valueStart - 1, valueEnd + 1);
        });
      } catch {
        // Not JSON (a name with a bad escape, in a buffer the ingest did not write): the line is
        // kept as text all the same, its server fields NULL, as this last way promises.
        messageId = undefined;
        receivedAt = undefined;
      }
      // DuckDB refuses a whole file for one byte that is no UTF-8 (a buffer written by hand): such
      // bytes become U+FFFD, as the ingest's parse makes them, and every event still lands.
      const text = utf8(buffer.subarray(start, end));
      messageId &&= utf8(messageId);
      receivedAt &&= utf8(receivedAt);
      // Held past this chunk by reference: a file stream's chunks are never reused.
      push(messageId, receivedAt, text);
    };
    const lines = new LineSplitter();
    for (const input of inputs) {
      for await (const chunk of createReadStream(input, {
        highWaterMark: 4 * 1024 * 1024,
      }) as AsyncIterable<Buffer>) {
        lines.push(chunk, addLine);
        if (pendingBytes >= OUTPUT_BYTES) await flush();
      }
    }
    lines.end(addLine);
    await flush();
    return longestLine;
  } finally {
    await out.close();
  }
}

/** `bytes` as they are when UTF-8, else with each byte that is not replaced by U+FFFD. */
const utf8 = (bytes: Buffer) => (isUtf8(bytes) ? bytes : Buffer.from(bytes.toString('utf8')));

/** `field` as it is, or quoted (TEXT_LINE_QUOTE) where it holds the delimiter, the quote or a CR. */
function quoted(field: Buffer): Buffer {
  // Quoted when empty: DuckDB reads an empty field as NULL, and NULL `_event` is a typed row's.
  if (field.length === 0) return EMPTY_QUOTED;
  if (!field.includes(TEXT_LINE_DELIMITER) && !field.includes(TEXT_LINE_QUOTE) && !field.includes(CR)) {
    return field;
  }
  let quotes = 0;
  for (let at = field.indexOf(TEXT_LINE_QUOTE); at !== -1; at = field.indexOf(TEXT_LINE_QUOTE, at + 1)) {
    quotes += 1;
  }
  // One buffer: a Buffer for each part held some 200 bytes per 0x02 (a 2 MiB line of them took
  // a flusher from 184 to 655 MB, a review's run).
  const out = Buffer.allocUnsafe(field.length + quotes + 2);
  let to = 0;
  out[to++] = TEXT_LINE_QUOTE;
  let start = 0;
  for (let at = field.indexOf(TEXT_LINE_QUOTE); at !== -1; at = field.indexOf(TEXT_LINE_QUOTE, at + 1)) {
    to += field.copy(out, to, start, at + 1);
    out[to++] = TEXT_LINE_QUOTE;
    start = at + 1;
  }
  to += field.copy(out, to, start);
  out[to] = TEXT_LINE_QUOTE;
  return out;
}

const DELIMITER = Buffer.from([TEXT_LINE_DELIMITER]);
const END = Buffer.from([NEWLINE]);
