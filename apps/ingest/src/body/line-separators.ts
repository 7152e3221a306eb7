/**
 * Characters JSON allows raw in a string, and JSON.stringify writes so, that some readers take
 * for a line's end: U+2028 and U+2029 (the line and paragraph separators) and U+0085 (NEL).
 * Python's `str.splitlines()`, and readers built on it, end a line at each, cutting a stored line
 * in two halves that are not JSON. Written as their escapes instead (`\u2028`), the same JSON
 * value, so a stored line holds no line break of any kind but its last "\n" (JSON.stringify
 * escapes the other controls, and writes no whitespace outside strings).
 */
const LINE_BREAKS_JSON_ALLOWS = /[\u0085\u2028\u2029]/;
const ALL_LINE_BREAKS_JSON_ALLOWS = new RegExp(LINE_BREAKS_JSON_ALLOWS.source, 'g');

export function escapeLineSeparators(json: string): string {
  // One search, some 10 ns a 230-byte line: a line without any (nearly all) is returned as it is.
  if (!LINE_BREAKS_JSON_ALLOWS.test(json)) return json;
  return json.replace(
    ALL_LINE_BREAKS_JSON_ALLOWS,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
