import { isUtf8 } from 'node:buffer';
import { errors } from '../errors.js';
import { parseWeighedJson, type WeighedJson } from './exact-json.js';

/** The body forms the API accepts, by media type. */
export const MEDIA_TYPES = {
  'application/json': 'json',
  'text/plain': 'json', // what navigator.sendBeacon sends for a string
  'application/x-ndjson': 'ndjson',
} as const;

export type BodyForm = (typeof MEDIA_TYPES)[keyof typeof MEDIA_TYPES];

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;
const UTF8_NAMES = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);

/**
 * Whether a Content-Type declares a charset other than UTF-8 (or its subset US-ASCII). JSON is
 * UTF-8 (RFC 8259, 8.1); a body declared UTF-16 or Latin-1 was read as UTF-8 all the same, and
 * refused as invalid JSON or UTF-8, or, where its bytes happened to be valid UTF-8, stored as
 * other characters than the client meant.
 */
export function declaresOtherCharset(contentType: string | undefined): boolean {
  if (contentType === undefined || !contentType.includes('=')) return false;
  const charset = CHARSET.exec(contentType)?.[1];
  return charset !== undefined && !UTF8_NAMES.has(charset.toLowerCase());
}

/** One item of a request: a parsed value, or the reason its NDJSON line did not parse. */
export type BodyItem = { value: unknown } | { parseError: string; raw: string };

/** A parsed request: `single` when the body was one JSON object, `batch` otherwise. */
export interface ParsedBody {
  shape: 'single' | 'batch';
  items: BodyItem[];
}

function decode(raw: Buffer): string {
  // Checked rather than decoded leniently: a lenient decode would silently store U+FFFD instead.
  if (!isUtf8(raw)) throw new errors.SPOOL_INVALID_UTF8();
  const text = raw.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Only what JSON counts as whitespace: a no-break space or a stray BOM is content, and invalid. */
const BLANK = /^[ \t\r\n]*$/;

/** A body's text: checked UTF-8, refused when it holds nothing. */
function bodyText(raw: Buffer): string {
  const text = decode(raw);
  if (BLANK.test(text)) throw new errors.SPOOL_EMPTY_BATCH();
  return text;
}

/**
 * V8's message for a JSON syntax error, which quotes the text around the error: cut in the middle
 * of an emoji, it holds half of it, a lone surrogate that strict JSON readers (DuckDB reading the
 * quarantine, a client parsing the 400) refuse. Made well-formed (U+FFFD), as events' strings are.
 */
const syntaxErrorMessage = (error: unknown) => (error as Error).message.toWellFormed();

/**
 * Hears what a parsed body's shape takes in the heap beyond its text (exact-json.ts), and may
 * throw to refuse it: the ingest's MAX_INFLIGHT_BYTES counts it (InflightBodies.grow).
 */
export type OnParsed = (heapBytes: number) => void;

function parseJsonText(text: string, onParsed?: OnParsed): unknown {
  let parsed: WeighedJson;
  try {
    parsed = parseWeighedJson(text);
  } catch (error) {
    throw new errors.SPOOL_INVALID_JSON(syntaxErrorMessage(error));
  }
  onParsed?.(parsed.heapBytes);
  return parsed.value;
}

/** A whole body as one JSON value: checked UTF-8, and the request-level errors. */
export function parseJsonValue(raw: Buffer, onParsed?: OnParsed): unknown {
  return parseJsonText(bodyText(raw), onParsed);
}

function parseJson(text: string, maxEvents: number, onParsed?: OnParsed): ParsedBody {
  const value = parseJsonText(text, onParsed);
  if (!Array.isArray(value)) return { shape: 'single', items: [{ value }] };
  if (value.length > maxEvents) throw new errors.SPOOL_TOO_MANY_EVENTS(value.length, maxEvents);
  return { shape: 'batch', items: value.map((item) => ({ value: item })) };
}

function parseNdjson(text: string, maxEvents: number, onParsed?: OnParsed): ParsedBody {
  // Counted before any line is parsed: a body of many tiny lines costs no parsing.
  const lines = text.split('\n').filter((line) => !BLANK.test(line));
  if (lines.length > maxEvents) throw new errors.SPOOL_TOO_MANY_EVENTS(lines.length, maxEvents);
  const items: BodyItem[] = [];
  let heapBytes = 0;
  for (const line of lines) {
    try {
      const parsed = parseWeighedJson(line);
      heapBytes += parsed.heapBytes;
      items.push({ value: parsed.value });
    } catch (error) {
      items.push({ parseError: `line is not valid JSON: ${syntaxErrorMessage(error)}`, raw: line });
    }
  }
  onParsed?.(heapBytes);
  return { shape: 'batch', items };
}

/**
 * Parses a whole body; throws the request-level errors (bad UTF-8, bad JSON, nothing in it, more
 * than `maxEvents` events), and what `onParsed` throws.
 */
export function parseBody(raw: Buffer, form: BodyForm, maxEvents: number, onParsed?: OnParsed): ParsedBody {
  const text = bodyText(raw);
  const body =
    form === 'ndjson' ? parseNdjson(text, maxEvents, onParsed) : parseJson(text, maxEvents, onParsed);
  if (body.items.length === 0) throw new errors.SPOOL_EMPTY_BATCH();
  return body;
}
