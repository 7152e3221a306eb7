import { escapeActing } from '@spool/shared';
import stringWidth from 'string-width';

const characters = new Intl.Segmenter();

/**
 * `text` cut to at most `columns` terminal columns, ending in `…` where it was cut. Measured in
 * columns, not UTF-16 units: a line of Japanese text cut at the terminal's 150 units took 199
 * columns and wrapped (a review's run), and a cut there could split a surrogate pair. Cut between
 * characters as the reader sees them (grapheme clusters), reading no further than the cut.
 */
export function cutToColumns(text: string, columns: number): string {
  let kept = 0;
  let used = 0;
  let fitsWithEllipsis = 0;
  for (const { segment, index } of characters.segment(text)) {
    const width = stringWidth(segment);
    if (used + width > columns) return `${text.slice(0, fitsWithEllipsis)}…`;
    used += width;
    kept = index + segment.length;
    if (used <= columns - 1) fitsWithEllipsis = kept;
  }
  return text.slice(0, kept);
}

/** How many terminal columns `text` takes. */
export const columnsOf = (text: string): number => stringWidth(text);

/** `text` padded with spaces to `columns` terminal columns (as String#padEnd, by columns). */
export function padToColumns(text: string, columns: number): string {
  return text + ' '.repeat(Math.max(0, columns - stringWidth(text)));
}

/**
 * `value` with every string in it (at any depth, keys too) passed through escapeActing (its
 * controls and bidirectional controls as `\u` escapes, so a terminal cannot act on them): for a
 * whole answer from outside (a flusher behind `--url` may send any text in any field), escaped
 * once before anything of it is measured, painted or printed.
 */
export function escapeControlsIn<T>(value: T): T {
  if (typeof value === 'string') return escapeActing(value) as T;
  if (Array.isArray(value)) return value.map(escapeControlsIn) as T;
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [escapeActing(key), escapeControlsIn(inner)]),
  ) as T;
}
