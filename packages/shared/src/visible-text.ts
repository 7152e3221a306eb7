/**
 * The characters that act on a screen rather than show: C0 (ESC among them), DEL and C1 (U+009B is
 * CSI, as ESC [ is), the line and paragraph separators, and the bidirectional controls, which
 * reorder the text after them: an error message holding U+202E (right-to-left override) shows its
 * tail reversed, so it can be made to read as something else. Spool's CLI and the status page show
 * outside text (an event, S3's error message, a stream name) with these escaped.
 */
export const ACTING_CHARACTERS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding the controls is the point here.
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with each acting character written as a `\u` escape. In a JSON string the escapes keep
 * it the same JSON (JSON.stringify escapes C0 itself, and leaves the others raw).
 */
export function escapeActing(text: string): string {
  return text.replace(ACTING_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
