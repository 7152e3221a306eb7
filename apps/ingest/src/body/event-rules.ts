import { isRawNumber } from './exact-json.js';

/**
 * What makes one event acceptable, checked per event so a bad event costs only itself.
 *
 * - It is a JSON object (not an array, string, number or null).
 * - No key is `__proto__`, and no `constructor` holds a `prototype`: such keys are harmless to
 *   Spool but pollute prototypes in the JavaScript readers downstream that merge events.
 * - It nests at most MAX_EVENT_DEPTH levels: analytics events are shallow, and deeper input is
 *   an attack on every recursive reader (JSON.stringify included).
 * - Its numbers are finite: `1e400` parses to Infinity, and would be stored as null. (An integer
 *   past 2^53 is held as its text, exact-json.ts, and is a number here as any other.)
 * - Its text is Unicode: a lone surrogate (`"\ud83d"`, what a client that cuts a string in the
 *   middle of an emoji sends) has no UTF-8 form, and DuckDB refuses the whole file that holds one.
 *   In a value it becomes U+FFFD, as any UTF-8 encoder would write it, and the event is kept; in
 *   a key it refuses the event (mendLoneSurrogates, run on the rare line that may hold one).
 * - A messageId of its own has at most MAX_MESSAGE_ID_LENGTH characters (Segment's limit): dedupe
 *   keeps every id for a window, so an id's size is what bounds its memory. It is well-formed
 *   Unicode: a lone surrogate has no UTF-8 form, so two different such ids would look alike.
 */
export const MAX_EVENT_DEPTH = 64;
export const MAX_MESSAGE_ID_LENGTH = 100;

export type EventProblem =
  | { code: 'SPOOL_INVALID_EVENT'; message: string }
  | { code: 'SPOOL_FORBIDDEN_KEY'; message: string }
  | { code: 'SPOOL_EVENT_TOO_DEEP'; message: string };

/** A JSON object: not an array, and not an integer held as its text (exact-json.ts). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !isRawNumber(value);
}

/** The refusal of a messageId of `length` characters, past MAX_MESSAGE_ID_LENGTH. */
export function messageIdTooLong(length: number): EventProblem {
  return {
    code: 'SPOOL_INVALID_EVENT',
    message: `messageId may have at most ${MAX_MESSAGE_ID_LENGTH} characters; this one has ${length}`,
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (isRawNumber(value)) return 'a number';
  return `a ${typeof value}`;
}

/** JSON.parse reads `1e400` as Infinity, which JSON.stringify would store as null: refused instead. */
const OUT_OF_RANGE: EventProblem = {
  code: 'SPOOL_INVALID_EVENT',
  message: 'a number is out of range (past ±1.8e308, which no reader can hold): send it as a string',
};

/** The first problem of one event, or undefined when it is acceptable. Iterative: no stack to blow. */
export function checkEvent(event: unknown): EventProblem | undefined {
  if (!isPlainObject(event)) {
    return { code: 'SPOOL_INVALID_EVENT', message: `an event must be a JSON object, not ${describe(event)}` };
  }
  if (typeof event.messageId === 'string' && event.messageId.length > MAX_MESSAGE_ID_LENGTH) {
    return messageIdTooLong(event.messageId.length);
  }
  // A lone surrogate has no UTF-8 form: two such ids would look alike to dedupe.
  if (typeof event.messageId === 'string' && !event.messageId.isWellFormed()) {
    return {
      code: 'SPOOL_INVALID_EVENT',
      message: 'messageId is not well-formed Unicode (a lone surrogate)',
    };
  }
  const stack: Array<[value: unknown, depth: number]> = [[event, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    // A number held as its text is a number, at its parent's depth.
    if (isRawNumber(value)) continue;
    if (depth > MAX_EVENT_DEPTH) {
      return { code: 'SPOOL_EVENT_TOO_DEEP', message: `an event may nest at most ${MAX_EVENT_DEPTH} levels` };
    }
    if (Array.isArray(value)) {
      for (const item of value) {
        if (typeof item === 'object' && item !== null) stack.push([item, depth + 1]);
        else if (typeof item === 'number' && !Number.isFinite(item)) return OUT_OF_RANGE;
      }
      continue;
    }
    for (const key of Object.keys(value as object)) {
      const child = (value as Record<string, unknown>)[key];
      if (key === '__proto__' || (key === 'constructor' && isPlainObject(child) && 'prototype' in child)) {
        return { code: 'SPOOL_FORBIDDEN_KEY', message: `the key "${key}" is not allowed in events` };
      }
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
      else if (typeof child === 'number' && !Number.isFinite(child)) return OUT_OF_RANGE;
    }
  }
  return undefined;
}

/** A key that is no Unicode text: mending it would change its name. */
export const LONE_SURROGATE_KEY: EventProblem = {
  code: 'SPOOL_INVALID_EVENT',
  message: 'a key is not well-formed Unicode (a lone surrogate, which has no UTF-8 form)',
};

/** The event's own messageId when it chose one (a non-empty string), else undefined. */
export function clientMessageId(event: Record<string, unknown>): string | undefined {
  return typeof event.messageId === 'string' && event.messageId !== '' ? event.messageId : undefined;
}

/**
 * A top-level field the stored line leaves out (to-lines.ts, storedLine): the client's
 * `receivedAt`, replaced by the server's, and a `messageId` it did not choose, replaced by a new one.
 */
const leftOutOfLine = (event: Record<string, unknown>, key: string) =>
  key === 'receivedAt' || (key === 'messageId' && clientMessageId(event) === undefined);

/**
 * Mends an event's string values that are not well-formed Unicode, in place (each lone surrogate
 * becomes U+FFFD: String.prototype.toWellFormed). Returns whether it changed anything, or the
 * problem when a key is not well-formed. Walks the whole event: called only for a stored line in
 * which JSON.stringify wrote a `\ud…` escape, which it does for lone surrogates alone (an event
 * that passed checkEvent, so its depth is bounded).
 */
export function mendLoneSurrogates(event: Record<string, unknown>): boolean | EventProblem {
  let mended = false;
  const stack: unknown[] = [event];
  while (stack.length > 0) {
    const value = stack.pop();
    if (isRawNumber(value)) continue;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (typeof item === 'object' && item !== null) stack.push(item);
        else if (typeof item === 'string' && !item.isWellFormed()) {
          value[i] = item.toWellFormed();
          mended = true;
        }
      }
      continue;
    }
    const object = value as Record<string, unknown>;
    for (const key of Object.keys(object)) {
      const child = object[key];
      // Never stored: judged by what else the line holds, an event was refused or taken alike.
      if (object === event && leftOutOfLine(event, key)) continue;
      if (!key.isWellFormed()) return LONE_SURROGATE_KEY;
      if (typeof child === 'object' && child !== null) stack.push(child);
      else if (typeof child === 'string' && !child.isWellFormed()) {
        object[key] = child.toWellFormed();
        mended = true;
      }
    }
  }
  return mended;
}
