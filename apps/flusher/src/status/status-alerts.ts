import type { Status, StreamRow } from './status.js';
import { NEARLY_FULL_SHARE } from './stream-status.js';

/**
 * What the status page and `spool status` say above their tables, made here once for both (each
 * had its own copy of every text): what needs attention now (`attention`, in red, and the page's
 * title), and what is said plainly, apart (`attention: false`): a flush error its stream has
 * landed since (history), and Redis's settings worth a look (`redis.notes`), which may stand for
 * good where a deployment chose them or cannot change them (a managed Redis without AOF).
 */
export interface StatusAlert {
  kind: 'stuck' | 'nearly-full' | 'counters-lost' | 'flush-error' | 'redis';
  text: string;
  attention: boolean;
}

/** How many streams an alert names (the rest are counted): a line, not a screen. */
export const STREAMS_NAMED_IN_ALERT = 5;

/** The alerts of a status whose `streams` are in attention order (the stuck, then the nearly full, first). */
export function statusAlerts(status: Omit<Status, 'alerts' | 'limit'>): StatusAlert[] {
  const t = status.totals;
  const alerts: StatusAlert[] = [];
  const alert = (kind: StatusAlert['kind'], text: string, attention = true) =>
    alerts.push({ kind, text, attention });
  // The first few of the streams listed that are so, by name; the rest counted.
  const naming = (so: (row: StreamRow) => boolean, total: number) => {
    const named = status.streams
      .filter(so)
      .map((row) => row.stream)
      .slice(0, STREAMS_NAMED_IN_ALERT);
    const more = total - named.length;
    return named.length > 0 ? `: ${named.join(', ')}${more > 0 ? ` and ${more} more` : ''}` : '';
  };
  if (t.stuck > 0) {
    alert(
      'stuck',
      `${t.stuck} stream(s) stuck: data older than twice FLUSH_INTERVAL (${formatDuration(2 * status.settings.flushIntervalMs)})` +
        naming((row) => row.stuck, t.stuck),
    );
  }
  if (t.nearlyFull > 0) {
    alert(
      'nearly-full',
      `${t.nearlyFull} stream(s) nearly full: over ${Math.round(NEARLY_FULL_SHARE * 100)}% of MAX_BUFFER_BYTES ` +
        `(${formatBytes(status.settings.maxBufferBytes)}) in Redis; at 100% their writes are refused (503)` +
        naming((row) => row.nearlyFull, t.nearlyFull),
    );
  }
  if (t.countersLost > 0) {
    alert(
      'counters-lost',
      `${t.countersLost} stream(s) landed more events than they accepted: their counters in Redis were lost (a failover, a deleted key); check their objects with spool verify`,
    );
  }
  const error = status.lastFlushError;
  if (error) {
    alert(
      'flush-error',
      `last flush error, ${error.at} (${error.stream}): ${error.type}: ${error.message}` +
        (error.landedSince ? ' (its stream has landed since)' : ''),
      !error.landedSince,
    );
  }
  for (const warning of status.redis.warnings) alert('redis', `Redis: ${warning}`);
  for (const note of status.redis.notes) alert('redis', `Redis: ${note}`, false);
  return alerts;
}

export function formatBytes(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `4.0 s`, `10.0 min`, `2.5 h`. */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  return s < 60
    ? `${s.toFixed(1)} s`
    : s < 3600
      ? `${(s / 60).toFixed(1)} min`
      : `${(s / 3600).toFixed(1)} h`;
}
