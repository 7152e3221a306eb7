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
    const width = characterColumns(segment);
    if (used + width > columns) return `${text.slice(0, fitsWithEllipsis)}…`;
    used += width;
    kept = index + segment.length;
    if (used <= columns - 1) fitsWithEllipsis = kept;
  }
  return text.slice(0, kept);
}

/**
 * `text` cut to at most `columns` terminal columns by its middle, an ellipsis in place of what
 * is left out: names that differ at their end (`billing-eu-staging`, `billing-eu-production`)
 * stay told apart, where a cut at the end made them one (a review at 80 columns).
 */
export function cutMiddleToColumns(text: string, columns: number): string {
  if (columnsOf(text) <= columns) return text;
  const pieces = [...characters.segment(text)].map(({ segment }) => segment);
  const room = columns - 1;
  let head = '';
  let headColumns = 0;
  for (const piece of pieces) {
    const width = characterColumns(piece);
    if (headColumns + width > Math.ceil(room / 2)) break;
    head += piece;
    headColumns += width;
  }
  let tail = '';
  let tailColumns = 0;
  for (const piece of pieces.reverse()) {
    const width = characterColumns(piece);
    if (tailColumns + width > room - headColumns) break;
    tail = piece + tail;
    tailColumns += width;
  }
  return `${head}…${tail}`;
}

/**
 * The columns one character (a grapheme cluster) takes: string-width's, but at least 1. A
 * character it counts as none alone (U+00AD SOFT HYPHEN, U+115F HANGUL CHOSEONG FILLER) terminals
 * show 1 or 2 wide: 300 soft hyphens made a line 429 columns on a 200-column terminal (a review's
 * run). Combining marks are in their base character's cluster, and count with it.
 */
function characterColumns(character: string): number {
  return Math.max(1, stringWidth(character));
}

/** How many terminal columns `text` takes, at most (characterColumns). */
export function columnsOf(text: string): number {
  let columns = 0;
  for (const { segment } of characters.segment(text)) columns += characterColumns(segment);
  return columns;
}

/** `text` padded with spaces to `columns` terminal columns (as String#padEnd, by columns). */
export function padToColumns(text: string, columns: number): string {
  return text + ' '.repeat(Math.max(0, columns - columnsOf(text)));
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
