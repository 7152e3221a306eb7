/**
 * JSON.parse, except that a number whose double is a whole number past 2^53 keeps the text it was
 * sent with. JavaScript reads every number as a double, so the 64-bit ids that Go, Java and
 * Python clients send (`9007199254740993`, `1234567890123456789`) came out with their last digits
 * changed, and the stored event said something its client never sent. Such a number is held as
 * `JSON.rawJSON` of its text, which JSON.stringify writes as it is.
 *
 * Only those: most clients send a decimal from a double of their own, whose shortest form
 * JSON.stringify writes back alike; a decimal with more digits than a double holds keeps only
 * those (docs/api.md#what-is-stored). Finding such a number is a walk of the parsed body (about
 * 2 µs for 100 events against JSON.parse's 23). A body that holds one is read once more, as text:
 * an iterative pass over its tokens that puts each such number's text in its place in the tree
 * JSON.parse made. Not JSON.parse's reviver: it took some 19 times JSON.parse's time on a body of
 * numbers, held a second tree meanwhile (30 such bodies at once ran a 128 MB heap out of memory,
 * a review's run), and recursed, so that one event nested some 3,000 levels deep cost every other
 * event of its body the digits. Measured (894 KB of 48,000 such numbers): 35 ms and 3.6 MiB of
 * heap held, against 9–12 ms and 1.4 MiB for the same body of safe integers; within what other
 * bodies the limits let in cost (as many empty arrays: 160 ms, 11 MiB; docs/operations.md).
 */

import { escapedKeys, parseKeysApart, withKeysUnescaped } from './escaped-keys.js';
import { mayBeUnsafeInteger, numberEnd, QUOTE, startsNumber, stringEnd, stringOf } from './json-tokens.js';

/** A number held as the text it was sent with. */
export interface RawNumber {
  readonly rawJSON: string;
}

// Node 24's JSON has both; TypeScript's lib does not declare them yet.
const json = JSON as JSON & {
  rawJSON(text: string): RawNumber;
  isRawJSON(value: unknown): value is RawNumber;
};

/** Whether `value` is a number held as its text (parseExactJson): a number, not an object. */
export const isRawNumber = (value: unknown): value is RawNumber => json.isRawJSON(value);

/** A whole number a double cannot hold exactly: its digits were changed as it was read. */
const isUnsafeInteger = (value: unknown) =>
  typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value);

/**
 * What V8's heap holds for a parsed value, estimated from its shape: each object or array, each
 * element of an array, each field of an object, and each unsafe integer (held as an object with
 * its text). A body's room in MAX_INFLIGHT_BYTES is its size, or this estimate where larger
 * (InflightBodies.grow). Measured on bodies of about 0.9 MB (node --expose-gc, the heap before and
 * after four parses), heap against estimate, each × the body's size: ordinary events with a text
 * field 1.2 against 0.6; Segment messages 1.3 against 1.6; safe integers 1.6 against 0.8; integers
 * past 2^53 4.2 against 3.8; empty arrays 10–12 against 17; empty objects 17–20 against 17; 40
 * fields an event, the same names 1.1 against 3.1, new names each time 4.9 against 2.6. Counted
 * by their size alone, 30 bodies of empty arrays, of big integers or of new names ran a 128 MB
 * heap (as a 512 Mi pod holds it) out of memory; counted so, each was answered 503 beside the others.
 */
const CONTAINER_BYTES = 48;
const ELEMENT_BYTES = 8;
const FIELD_BYTES = 24;
const RAW_NUMBER_BYTES = 56;

/**
 * An object's keys that are array indexes (`"0"`, `"34"`, `"100000"`) are no fields to V8: they
 * go to a store of elements of their own, a slot for every index up to the largest while they are
 * dense enough, else a dictionary. Weighed as fields, objects like `{"34":1}` held 4.4 × their room
 * (a review's 0.83 MB body: 31 MiB of heap). Measured per object (node --expose-gc, 20,000 of each
 * parsed, the heap held, less a one-field object's 40 bytes): `{"34":1}` 320 bytes (slots),
 * `{"35":1}` or `{"100000":1}` 168 (a dictionary), 10 keys 100 apart 456, 100 of them 6,216,
 * keys 0 to 99 840, 100 keys 20 apart some 15,000 (slots). Which store V8 takes fits, in every
 * shape a review measured, slots while the largest index + 1 < 9 × the dictionary's capacity
 * (max(4, the power of two at or past 1.5 × the keys)): V8 prefers slots up to some 9 times the
 * dictionary's size.
 */
const INDEX_SLOTS_BYTES = 16;
const INDEX_DICTIONARY_BYTES = 160;
const INDEX_ENTRY_BYTES = 64;

/** What an object's array-index keys take (see INDEX_SLOTS_BYTES): `keys` of them, the largest `largest`. */
function indexStoreBytes(keys: number, largest: number): number {
  const dictionaryCapacity = Math.max(4, 2 ** Math.ceil(Math.log2(keys + Math.floor(keys / 2))));
  return largest + 1 < 9 * dictionaryCapacity
    ? INDEX_SLOTS_BYTES + (largest + 1) * ELEMENT_BYTES
    : INDEX_DICTIONARY_BYTES + keys * INDEX_ENTRY_BYTES;
}

/** `key` as an array index (a whole number below 2^32 − 1, written as JavaScript writes it), or -1. */
function arrayIndex(key: string): number {
  const first = key.charCodeAt(0);
  if (first < 0x30 || first > 0x39) return -1; // the usual key: no digit first
  const index = Number(key);
  return Number.isInteger(index) && index < 4_294_967_295 && String(index) === key ? index : -1;
}

/** The unsafe integers in `root`, and the heap its shape takes (see CONTAINER_BYTES). Iterative. */
function survey(root: unknown): { unsafeIntegers: number; heapBytes: number } {
  if (typeof root !== 'object' || root === null) {
    return { unsafeIntegers: isUnsafeInteger(root) ? 1 : 0, heapBytes: 0 };
  }
  let unsafeIntegers = 0;
  let containers = 0;
  let elements = 0;
  let fields = 0;
  let indexBytes = 0;
  const stack: object[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    containers += 1;
    if (Array.isArray(value)) {
      elements += value.length;
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (typeof item === 'object') {
          if (item !== null) stack.push(item);
        } else if (isUnsafeInteger(item)) unsafeIntegers += 1;
      }
      continue;
    }
    let indexKeys = 0;
    let largestIndex = -1;
    // JSON.parse makes plain objects: for…in meets no inherited key.
    for (const key in value) {
      const index = arrayIndex(key);
      if (index < 0) fields += 1;
      else {
        indexKeys += 1;
        if (index > largestIndex) largestIndex = index;
      }
      const child = (value as Record<string, unknown>)[key];
      if (typeof child === 'object') {
        if (child !== null) stack.push(child);
      } else if (isUnsafeInteger(child)) unsafeIntegers += 1;
    }
    if (indexKeys > 0) indexBytes += indexStoreBytes(indexKeys, largestIndex);
  }
  return {
    unsafeIntegers,
    heapBytes:
      containers * CONTAINER_BYTES +
      elements * ELEMENT_BYTES +
      fields * FIELD_BYTES +
      indexBytes +
      unsafeIntegers * RAW_NUMBER_BYTES,
  };
}

const isObject = (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A container of the text being read, and the container JSON.parse made of it (undefined where
 * they differ: an earlier one of two duplicate keys, whose value JSON.parse dropped).
 */
interface Frame {
  node: Record<string, unknown> | unknown[] | undefined;
  /** The slot the next value fills: an array's index, or an object's key (read from the text). */
  slot: number | string | undefined;
}

/** The value JSON.parse put in the frame's current slot, if the slot is its own. */
function slotValue(frame: Frame): unknown {
  const { node, slot } = frame;
  if (node === undefined || slot === undefined) return undefined;
  // Own slots only: a key such as `__proto__` must never reach an inherited value.
  return Object.hasOwn(node, slot) ? (node as Record<string | number, unknown>)[slot] : undefined;
}

/**
 * Puts the text of each unsafe integer of `text` in its place in `root` (JSON.parse of `text`)
 * and returns the root. The text is valid JSON (JSON.parse read it), so tokens are only told
 * apart, not checked. A later duplicate key overwrites an earlier one, as in JSON.parse.
 */
function withExactIntegers(text: string, root: unknown): unknown {
  let result = root;
  const frames: Frame[] = [];
  const slotOwner = (): Frame | undefined => frames[frames.length - 1];
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      const end = stringEnd(text, i);
      const frame = slotOwner();
      // A string where an object expects a key (an array's slot is always its index) names the
      // slot of the value that follows.
      if (frame && frame.slot === undefined) frame.slot = stringOf(text.slice(i, end));
      i = end;
    } else if (code === 0x7b || code === 0x5b) {
      // { or [: the container JSON.parse made for this slot, if it is of the same kind.
      const frame = slotOwner();
      const value = frame ? slotValue(frame) : root;
      const isArray = code === 0x5b;
      const same = isArray ? Array.isArray(value) : isObject(value);
      frames.push({ node: same ? (value as Frame['node']) : undefined, slot: isArray ? 0 : undefined });
      i += 1;
    } else if (code === 0x7d || code === 0x5d) {
      frames.pop();
      i += 1;
    } else if (code === 0x2c) {
      // , : the next element of an array, or the next key of an object.
      const frame = slotOwner() as Frame;
      frame.slot = typeof frame.slot === 'number' ? frame.slot + 1 : undefined;
      i += 1;
    } else if (startsNumber(code)) {
      const end = numberEnd(text, i);
      const token = text.slice(i, end);
      if (mayBeUnsafeInteger(token)) {
        const number = Number(token);
        if (isUnsafeInteger(number)) {
          const frame = slotOwner();
          if (!frame) result = json.rawJSON(token);
          else {
            const held = slotValue(frame);
            if (held === number || (isRawNumber(held) && Number(held.rawJSON) === number)) {
              (frame.node as Record<string | number, unknown>)[frame.slot as string | number] =
                json.rawJSON(token);
            }
          }
        }
      }
      i = end;
    } else {
      // Whitespace, `:`, and true, false and null.
      i += 1;
    }
  }
  return result;
}

/** A parsed value, and what its shape takes in V8's heap beyond its text (see CONTAINER_BYTES). */
export interface WeighedJson {
  value: unknown;
  heapBytes: number;
}

/**
 * JSON.parse of `text`, with each unsafe integer held as the text it was sent with, and the heap
 * its shape takes. Throws as JSON.parse.
 */
export function parseWeighedJson(text: string): WeighedJson {
  const parsed: unknown = JSON.parse(text);
  const keys = escapedKeys(text);
  if (keys.length === 0) return withExactIntegersWeighed(text, parsed);
  // Out of V8's way with keys written with escapes (escaped-keys.ts).
  const unescaped = withKeysUnescaped(text, keys);
  if (unescaped !== undefined) return withExactIntegersWeighed(unescaped, JSON.parse(unescaped));
  const value = parseKeysApart(text, exactNumber);
  return { value, heapBytes: survey(value).heapBytes };
}

/** `parsed` (JSON.parse of `text`) with its unsafe integers as their text, and its weight. */
function withExactIntegersWeighed(text: string, parsed: unknown): WeighedJson {
  const { unsafeIntegers, heapBytes } = survey(parsed);
  return { value: unsafeIntegers > 0 ? withExactIntegers(text, parsed) : parsed, heapBytes };
}

/** A number token's value: its text where it is an unsafe integer, else its double. */
function exactNumber(token: string): unknown {
  if (!mayBeUnsafeInteger(token)) return Number(token);
  const number = Number(token);
  return isUnsafeInteger(number) ? json.rawJSON(token) : number;
}

/** JSON.parse of `text`, with each unsafe integer held as the text it was sent with. Throws as JSON.parse. */
export function parseExactJson(text: string): unknown {
  return parseWeighedJson(text).value;
}
