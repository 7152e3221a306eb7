/**
 * What the passes over a body's JSON text share (exact-json.ts, escaped-keys.ts): they run only on
 * text JSON.parse has read, so tokens are told apart, never checked.
 */

export const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The index just past the string token whose opening quote is at `start` (or a place inside it before its end). */
export function stringEnd(text: string, start: number): number {
  let quote = text.indexOf('"', start + 1);
  for (;;) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    quote = text.indexOf('"', quote + 1);
  }
}

/** The string a string token (quotes included) stands for. */
export function stringOf(token: string): string {
  // JSON.parse of a lone string meets no object key (escaped-keys.ts).
  return token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
}

/** A number token's characters: digits, sign, point, exponent. */
const isNumberChar = (code: number) =>
  (code >= 0x30 && code <= 0x39) ||
  code === 0x2d ||
  code === 0x2b ||
  code === 0x2e ||
  code === 0x65 ||
  code === 0x45;

/** Whether the character at `i` starts a number token: a digit or a minus. */
export const startsNumber = (code: number) => (code >= 0x30 && code <= 0x39) || code === 0x2d;

/** The index just past the number token that starts at `start`. */
export function numberEnd(text: string, start: number): number {
  let end = start + 1;
  while (end < text.length && isNumberChar(text.charCodeAt(end))) end += 1;
  return end;
}

/** Whether a number token may be an unsafe integer: 16 digits or more, or an exponent. Others never are. */
export const mayBeUnsafeInteger = (token: string) =>
  token.length >= 16 || token.includes('e') || token.includes('E');
