/** The controls a terminal may act on: C0 (ESC among them), DEL and C1 (U+009B is CSI, as ESC [ is). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding the controls is the point here.
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Text from outside (an event, a stream name, S3's error message) as it may reach a terminal:
 * each control written as a `\u` escape, so it cannot move the cursor, retitle the window or
 * repaint the screen. In a JSON line the escapes keep it the same JSON (JSON.stringify already
 * escapes C0; it leaves DEL and C1 raw).
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * `value` with every string in it (at any depth, keys too) passed through escapeControls: for a
 * whole answer from outside (a flusher behind `--url` may send any text in any field), escaped
 * once before anything of it is measured, painted or printed.
 */
export function escapeControlsIn<T>(value: T): T {
  if (typeof value === 'string') return escapeControls(value) as T;
  if (Array.isArray(value)) return value.map(escapeControlsIn) as T;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [escapeControls(key), escapeControlsIn(inner)]),
  ) as T;
}
