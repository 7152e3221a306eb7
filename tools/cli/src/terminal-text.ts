import { escapeActing } from '@spool/shared';

/**
 * Text from outside (an event, a stream name, S3's error message) as it may reach a terminal: each
 * control (ESC, CSI, …) and each bidirectional control written as a `\u` escape, so it cannot move
 * the cursor, retitle the window, repaint the screen or reorder what is shown. In a JSON line the
 * escapes keep it the same JSON.
 */
export const escapeControls = escapeActing;

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
