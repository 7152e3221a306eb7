import { escapeActing } from '@spool/shared';

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
