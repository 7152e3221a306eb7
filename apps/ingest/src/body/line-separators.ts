/**
 * U+2028 and U+2029 (the line and paragraph separators) may stand raw in a JSON string, and
 * JSON.stringify writes them so; but Python's `str.splitlines()`, and readers built on it, end a
 * line at each, cutting a stored line in two halves that are not JSON. Written as their escapes
 * instead (`\u2028`, `\u2029`), the same JSON value, so a stored line holds no line break but its
 * last "\n". Outside strings JSON.stringify writes no whitespace, so every one found is in a string.
 */
export function escapeLineSeparators(json: string): string {
  // Two searches that V8 answers at once for a one-byte string (the usual, ASCII event).
  if (!json.includes('\u2028') && !json.includes('\u2029')) return json;
  return json.replace(/[\u2028\u2029]/g, (separator) => (separator === '\u2028' ? '\\u2028' : '\\u2029'));
}
