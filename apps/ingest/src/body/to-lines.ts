import { randomUUID } from 'node:crypto';
import type { ClientMessageIds } from '@spool/shared';
import { errors } from '../errors.js';
import { isoTime } from '../iso-time.js';
import { checkEvent, clientMessageId, mendLoneSurrogates } from './event-rules.js';
import { jsonText as jsonTextUpTo } from './json-text.js';
import { escapeLineSeparators } from './line-separators.js';
import type { ParsedBody } from './parse-body.js';

/** An answer lists this many rejected events at most, and counts the rest. */
export const MAX_LISTED_REJECTIONS = 100;

/** A rejected event's text is kept (for the quarantine) up to this many characters. */
export const MAX_REJECTED_TEXT = 2_048;

/**
 * ...and up to this many bytes as the quarantine entry holds it (JSON-escaped UTF-8): 2,048
 * control characters, each written `\u0001`, made an entry of 12.4 KB where ASCII text makes
 * 2.5 KB, and a stream's quarantine 14.4 MB of Redis where 2.5 MB was the rule (a review's flood).
 */
export const MAX_REJECTED_TEXT_BYTES = 4_096;

/** `text`'s first `units` UTF-16 units, one fewer where the cut would split a character's two halves. */
function cutAt(text: string, units: number): string {
  if (text.length <= units) return text;
  const last = text.charCodeAt(units - 1);
  const splitsPair = last >= 0xd800 && last <= 0xdbff;
  return text.slice(0, splitsPair ? units - 1 : units);
}

/**
 * `text` cut to MAX_REJECTED_TEXT UTF-16 units, and further until its JSON as the quarantine
 * stores it (line breaks escaped: line-separators.ts) takes at most MAX_REJECTED_TEXT_BYTES;
 * never between a character's two halves: a lone surrogate has no UTF-8 form, and DuckDB refuses
 * the whole quarantine file that holds one. (Measured before the escapes, text of U+0085 made
 * entries of 12.5 KB: a review's flood.)
 */
export function cutText(text: string): string {
  const storedBytes = (cut: string) => Buffer.byteLength(escapeLineSeparators(JSON.stringify(cut)));
  let cut = cutAt(text, MAX_REJECTED_TEXT);
  let bytes = storedBytes(cut);
  while (bytes > MAX_REJECTED_TEXT_BYTES) {
    // In proportion to what is over: a few rounds at most (no character takes more than 6 bytes).
    cut = cutAt(cut, Math.floor((cut.length * MAX_REJECTED_TEXT_BYTES) / bytes));
    bytes = storedBytes(cut);
  }
  return cut;
}

export interface RejectedEvent {
  index: number;
  code: string;
  message: string;
}

export interface Lines {
  /** Stored lines, each one JSON object ending in "\n". */
  text: string;
  /** The same lines one by one. */
  parts: string[];
  count: number;
  bytes: number;
  /** The messageIds the client chose, and their lines: what dedupe checks. */
  clientIds: ClientMessageIds;
  /** The first MAX_LISTED_REJECTIONS rejected events. */
  rejected: RejectedEvent[];
  /** Their text as sent (JSON for a parsed value), cut to MAX_REJECTED_TEXT: what the quarantine keeps. */
  rejectedText: string[];
  /** Whether each text was cut: a cut text and a short event look alike to whoever reads them. */
  rejectedTextCut: boolean[];
  rejectedCount: number;
}

/** A refused value's text: its JSON, up to one unit more than the quarantine keeps, so that its cut shows. */
export const jsonText = (value: unknown): string => jsonTextUpTo(value, MAX_REJECTED_TEXT + 1);

/** Turns one event into the object to store, or says why it is refused (the tracking API's rules). */
export type PrepareEvent = (
  value: unknown,
  receivedAt: string,
) => { message: Record<string, unknown> } | { problem: Omit<RejectedEvent, 'index'> };

export interface LineLimits {
  /** MAX_EVENT_BYTES: one stored line. */
  maxEventBytes: number;
  /** What the request's stored lines may take together. */
  maxStoredBytes: number;
}

/**
 * One event as stored, ending in "\n": the server's `receivedAt` first, then `messageId` (the
 * client's non-empty string, else a new UUID), then the event's other fields in their order.
 * First, because readers that match names without case keep the first spelling of a line:
 * DuckDB's read_json took a client's `ReceivedAt` or `MessageID` written before Spool's fields
 * for the column, and renamed Spool's (a review's count(DISTINCT messageId) read 1 for 3 events).
 * Written as text around the event's own JSON, so the usual event is never copied. As stored,
 * its one line break is its last character (storedLineAndBytes).
 */
export function storedLine(event: Record<string, unknown>, stamp: string): string {
  const ownId = clientMessageId(event);
  const serverFields = `{"receivedAt":"${stamp}","messageId":${ownId === undefined ? `"${randomUUID()}"` : JSON.stringify(ownId)}`;
  let json: string;
  if (Object.hasOwn(event, 'receivedAt')) {
    // The client's receivedAt is replaced by the server's: copied without it (rare).
    const { receivedAt: _replaced, messageId: _written, ...others } = event;
    json = JSON.stringify(others);
  } else if (Object.hasOwn(event, 'messageId')) {
    // Written first above: left out here by JSON's rule for undefined, without a copy (every
    // Segment message has one).
    const held = event.messageId;
    event.messageId = undefined;
    try {
      json = JSON.stringify(event);
    } finally {
      event.messageId = held;
    }
  } else {
    json = JSON.stringify(event);
  }
  return json === '{}' ? `${serverFields}}\n` : `${serverFields},${json.slice(1)}\n`;
}

/**
 * An event's stored line, its line breaks JSON allows raw escaped (line-separators.ts), and its
 * size in UTF-8. Only a line with a character past ASCII can hold one: its UTF-8 is then longer
 * than its length, which the size says at no cost, so an ASCII line (most events) is searched for
 * none (a search of every line cost some 10 % of building it).
 */
function storedLineAndBytes(event: Record<string, unknown>, stamp: string): { line: string; bytes: number } {
  const line = storedLine(event, stamp);
  const bytes = Buffer.byteLength(line);
  if (bytes === line.length) return { line, bytes };
  const escaped = escapeLineSeparators(line);
  return escaped === line ? { line, bytes } : { line: escaped, bytes: Buffer.byteLength(escaped) };
}

/**
 * Turns a parsed body into the lines to store: each good event (made ready by `prepare` when
 * given) plus `receivedAt` (the server's clock, always) and `messageId` (the client's non-empty
 * string, else a new UUID). Bad events are listed by index (the first MAX_LISTED_REJECTIONS) and
 * cost nothing else. Throws when the lines made (stored, or refused as too large) together pass
 * `maxStoredBytes`, before building the rest.
 */
export function toLines(
  body: ParsedBody,
  receivedAt: Date,
  limits: LineLimits,
  prepare?: PrepareEvent,
  /** A refused value's text for the quarantine (an API that must leave fields out of it says how). */
  textOf: (value: unknown) => string = jsonText,
): Lines {
  const stamp = isoTime(receivedAt);
  const parts: string[] = [];
  const clientIds: ClientMessageIds = { ids: [], lines: [] };
  const rejected: RejectedEvent[] = [];
  const rejectedText: string[] = [];
  const rejectedTextCut: boolean[] = [];
  let rejectedCount = 0;
  let bytes = 0;
  // Every line made counts, the ones then refused as too large too: a batch's shared `context` is
  // written into each of its messages, so a small body could otherwise make gigabytes of text.
  let madeBytes = 0;
  // The text is made only for the listed ones: a request's bad events cost at most that many.
  const reject = (event: RejectedEvent, text: () => string) => {
    rejectedCount += 1;
    if (rejected.length < MAX_LISTED_REJECTIONS) {
      rejected.push(event);
      const whole = text();
      const kept = cutText(whole);
      rejectedText.push(kept);
      rejectedTextCut.push(kept.length < whole.length);
    }
  };
  const json = (value: unknown) => () => textOf(value);

  // A plain loop: this runs for every event of every request.
  const { items } = body;
  for (let index = 0; index < items.length; index++) {
    const item = items[index] as ParsedBody['items'][number];
    if ('parseError' in item) {
      reject({ index, code: 'SPOOL_INVALID_JSON', message: item.parseError }, () => item.raw);
      continue;
    }
    const problem = checkEvent(item.value);
    if (problem) {
      reject({ index, ...problem }, json(item.value));
      continue;
    }
    const prepared = prepare?.(item.value, stamp);
    if (prepared && 'problem' in prepared) {
      reject({ index, ...prepared.problem }, json(item.value));
      continue;
    }
    const event = prepared ? prepared.message : (item.value as Record<string, unknown>);
    let { line, bytes: lineBytes } = storedLineAndBytes(event, stamp);
    // Counted as made, before anything refuses it: a line refused for a lone surrogate in a key
    // (a shared context's, in every message) escaped the count, and one 485 KB batch held the
    // event loop for 13 s. Mending only shortens a line (a 6-byte escape to U+FFFD's 3 bytes).
    madeBytes += lineBytes;
    if (madeBytes > limits.maxStoredBytes) throw new errors.SPOOL_REQUEST_TOO_LARGE(limits.maxStoredBytes);
    // A lone surrogate is written as a \ud… escape: only such a line is looked at closely.
    if (line.includes('\\ud')) {
      const mended = mendLoneSurrogates(event);
      if (typeof mended === 'object') {
        reject({ index, ...mended }, json(item.value));
        continue;
      }
      if (mended) ({ line, bytes: lineBytes } = storedLineAndBytes(event, stamp));
    }
    if (lineBytes > limits.maxEventBytes) {
      reject(
        {
          index,
          code: 'SPOOL_EVENT_TOO_LARGE',
          message: `the event is ${lineBytes} bytes as stored, over the ${limits.maxEventBytes}-byte limit`,
        },
        // The native API's event as sent (the stored line would show a messageId the client
        // never chose); a tracking message with the changes Spool made to it (docs/sdks.md),
        // which may be what took it past the limit.
        prepared ? () => line : json(item.value),
      );
      continue;
    }
    bytes += lineBytes;
    const ownId = clientMessageId(event);
    if (ownId !== undefined) {
      clientIds.ids.push(ownId);
      clientIds.lines.push(parts.length);
    }
    parts.push(line);
  }

  return {
    text: parts.join(''),
    parts,
    count: parts.length,
    bytes,
    clientIds,
    rejected,
    rejectedText,
    rejectedTextCut,
    rejectedCount,
  };
}

/** The error that answers a request none of whose events could be stored: its first one's. */
export function refusalOf(shape: ParsedBody['shape'], first: RejectedEvent) {
  if (shape === 'single') {
    return first.code === 'SPOOL_EVENT_TOO_LARGE'
      ? new errors.SPOOL_EVENT_TOO_LARGE(first.message)
      : new errors.SPOOL_INVALID_EVENT(first.message);
  }
  return new errors.SPOOL_NO_VALID_EVENTS(first.index, first.message);
}
