import { numberEnd, QUOTE, startsNumber, stringEnd, stringOf } from './json-tokens.js';

/**
 * V8's JSON.parse (Node 24 and 26; nodejs/node#63785, Chromium 521080746) can name an object's key
 * wrongly when the key is written with an escape: it takes a key it met before at the same place
 * (the same keys before it) whose text the escaped key's text starts with, so once any client sent
 * a key ending in a backslash (`"path\\"`), a later `"path\u00e9"` (as Python's json.dumps writes
 * `pathé`), `"path\""` or `"path\n"` came back as `path\`, under 202 and in any stream, until the
 * ingest restarted (a review's runs through the native and tracking APIs). A key written without
 * an escape is never read so. So a text's escaped keys are written out without their escapes for
 * JSON.parse (`withKeysUnescaped`): `"path\u00e9"` as `"pathé"`. A key that cannot be (it holds a
 * quote, a backslash or a control character) has its text built here instead (`parseKeysApart`),
 * each string decoded on its own (a lone string has no keys). Hand-written rather than a JSON
 * library: it must give JSON.parse's own tree (an own `__proto__` key, the last of duplicate keys,
 * array-index keys first), hold any depth without recursion, keep unsafe integers as their text
 * (exact-json.ts), and it reads text JSON.parse has already checked. Measured on 1 MB bodies with
 * one such key (`node bench/analysis/escaped-keys-cost.mjs`, warm; a fresh process's first read
 * costs up to some 3 times more): with the keys written out unescaped, 1–6 times JSON.parse's
 * time (two reads); by the token pass, 3–8 times, at most 158 ms (empty arrays, JSON.parse 21 ms;
 * 500,000 nested arrays 138 ms), about the 160 ms a body of empty arrays costs either way.
 */

/** Where `text` (valid JSON) has object keys written with an escape: each one's token, quotes included. */
export function escapedKeys(text: string): Array<[start: number, end: number]> {
  const keys: Array<[number, number]> = [];
  let backslash = text.indexOf('\\');
  while (backslash !== -1) {
    // Only strings hold a backslash, and the first past a string's end starts an escape in the
    // next string that has one.
    const start = text.lastIndexOf('"', backslash);
    const end = stringEnd(text, backslash - 1);
    let next = end;
    while (isWhitespace(text.charCodeAt(next))) next += 1;
    if (text.charCodeAt(next) === COLON) keys.push([start, end]);
    backslash = text.indexOf('\\', end);
  }
  return keys;
}

/**
 * `text` with each of its escaped `keys` written without escapes, or undefined when one cannot be
 * (JSON.stringify still escapes it: a quote, a backslash, a control character, a lone surrogate).
 */
export function withKeysUnescaped(text: string, keys: ReadonlyArray<[number, number]>): string | undefined {
  let written = '';
  let from = 0;
  for (const [start, end] of keys) {
    const key = JSON.stringify(stringOf(text.slice(start, end)));
    if (key.includes('\\')) return undefined;
    written += text.slice(from, start) + key;
    from = end;
  }
  return written + text.slice(from);
}

/**
 * The value of `text` (valid JSON), as JSON.parse would give it without V8's mistake, each
 * number's token read by `numberOf`. Iterative, and bottom up, as JSON.parse builds: the values
 * of the containers being read wait on one stack (an object's as key, value, key, ...), and each
 * container is made when it closes, an array at its size: made first and pushed into, a body of
 * 500,000 nested arrays grew a spare slot store for each, some 80 MB, and took 3 times as long.
 */
export function parseKeysApart(text: string, numberOf: (token: string) => unknown): unknown {
  const values: unknown[] = [];
  /** Where each open container's values start on `values` (its closing bracket tells its kind). */
  const starts: number[] = [];
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      const end = stringEnd(text, i);
      values.push(stringOf(text.slice(i, end)));
      i = end;
    } else if (code === 0x7b || code === 0x5b) {
      starts.push(values.length);
      i += 1;
    } else if (code === 0x7d || code === 0x5d) {
      const start = starts.pop() as number;
      values.push(code === 0x5d ? values.splice(start) : objectOf(values, start));
      i += 1;
    } else if (startsNumber(code)) {
      const end = numberEnd(text, i);
      values.push(numberOf(text.slice(i, end)));
      i = end;
    } else if (code === 0x74) {
      values.push(true);
      i += 4;
    } else if (code === 0x66) {
      values.push(false);
      i += 5;
    } else if (code === 0x6e) {
      values.push(null);
      i += 4;
    } else {
      // Whitespace, `:` and `,`.
      i += 1;
    }
  }
  return values[0];
}

/** The object of the keys and values on `values` from `start` (key, value, ...), taken off it. */
function objectOf(values: unknown[], start: number): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (let at = start; at < values.length; at += 2) setField(object, values[at] as string, values[at + 1]);
  values.length = start;
  return object;
}

const COLON = 0x3a;

/** JSON's whitespace: space, tab, line feed, carriage return. */
const isWhitespace = (code: number) => code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;

/** A field as JSON.parse makes it: `__proto__` too is an own field, never the object's prototype. */
function setField(node: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(node, key, { value, writable: true, enumerable: true, configurable: true });
  } else node[key] = value;
}
