import type { Status } from '@spool/flusher/dist/status/status.js';
import { formatBytes, statusAlerts } from '@spool/flusher/dist/status/status-alerts.js';
import { stateOf } from '@spool/flusher/dist/status/stream-status.js';
import { columnsOf, cutMiddleToColumns, escapeControlsIn, padToColumns } from './terminal-text.js';

/** How a table is drawn: as wide as the terminal, in colour only on a terminal. */
export interface TableStyle {
  width: number;
  color: boolean;
}

const RED = '\x1b[31m';
const BOLD = '\x1b[1m';
const RESET = '\x1b[0m';

export function formatAge(ms: number | null): string {
  if (ms === null) return '-';
  const s = ms / 1000;
  return s < 60 ? `${s.toFixed(1)}s` : s < 3600 ? `${(s / 60).toFixed(1)}m` : `${(s / 3600).toFixed(1)}h`;
}

const count = (n: number | null) => (n === null ? '-' : Math.round(n).toLocaleString('en-US'));
const percent = (x: number) => `${Math.round(x * 100)}%`;

type Row = Status['streams'][number];

/**
 * Columns, most useful first: a narrow terminal keeps those that fit, the stream name always. A
 * stuck or nearly full stream says so in words, not in colour alone: into a pipe, or for a reader
 * who cannot tell red, its row was like any other.
 */
const COLUMNS: Array<{ title: string; cell: (row: Row, status: Status) => string }> = [
  { title: 'state', cell: (row) => row.state },
  { title: 'buffer', cell: (row) => formatBytes(row.bufferBytes) },
  { title: 'age', cell: (row) => formatAge(row.ageMs) },
  { title: 'of max', cell: (row) => percent(row.maxShare) },
  { title: 'sealed', cell: (row) => String(row.sealedGenerations) },
  { title: 'events/s', cell: (row) => count(row.eventsPerSecond) },
  { title: 'accepted', cell: (row) => count(row.accepted) },
  { title: 'landed', cell: (row) => count(row.landed) },
  { title: 'of threshold', cell: (row) => percent(row.thresholdShare) },
  { title: 'gen', cell: (row) => String(row.generation) },
  { title: 'dupes', cell: (row) => count(row.duplicates) },
  { title: 'rejected', cell: (row) => count(row.rejected) },
  { title: 'bytes/s', cell: (row) => `${formatBytes(row.bytesPerSecond)}/s` },
  { title: 'last landed', cell: (row) => row.lastObject?.landedAt ?? '-' },
];

/** The status as lines of text: a summary, what needs attention, and a table of the streams. */
export function renderStatus(answer: Status, style: TableStyle): string[] {
  // Escaped whole before anything is measured or painted: a flusher behind --url (or anyone on
  // the way to a plain-http one) may send any text in any field, S3's error messages come
  // through it, and stream names are anyone's.
  const status = escapeControlsIn(upToDate(answer));
  const paint = (code: string, text: string) => (style.color ? `${code}${text}${RESET}` : text);
  const t = status.totals;
  const out: string[] = [];
  out.push(paint(BOLD, `Spool, as of ${status.generatedAt}`));
  out.push(
    `${count(t.streams)} streams · ${formatBytes(t.bufferBytes)} buffered · ${count(t.sealedGenerations)} sealed · ` +
      `${count(t.accepted)} accepted · ${count(t.landed)} landed · ${count(t.inFlight)} in flight · ${count(t.eventsPerSecond)} events/s`,
  );
  const q = status.queue;
  out.push(
    `queue: ${q.waiting} waiting, ${q.active} active, ${q.delayed} delayed, ${q.failed} failed · ` +
      (status.redis.unchecked
        ? 'Redis: not checked (INFO refused)'
        : `Redis: ${formatBytes(status.redis.usedMemoryBytes)} of ${status.redis.maxMemoryBytes ? formatBytes(status.redis.maxMemoryBytes) : 'no maxmemory'}`),
  );
  // The flusher's alerts (status-alerts.ts), as the page says them: those that need attention in
  // red, the rest (history, Redis's settings worth a look) plainly, after them.
  for (const alert of status.alerts.filter((a) => a.attention)) out.push(paint(RED, `! ${alert.text}`));
  for (const alert of status.alerts.filter((a) => !a.attention)) out.push(`- ${alert.text}`);
  out.push('');

  const rows = status.streams.map((row) => ({
    row,
    cells: COLUMNS.map((column) => column.cell(row, status)),
  }));
  const nameWidth = Math.min(
    Math.max(6, ...rows.map(({ row }) => columnsOf(row.stream))),
    Math.max(6, Math.floor(style.width / 3)),
  );
  // Keep the columns that fit after the name, in order of use.
  const widths = COLUMNS.map((column, i) =>
    Math.max(column.title.length, ...rows.map(({ cells }) => (cells[i] ?? '').length)),
  );
  let used = nameWidth;
  const shown: number[] = [];
  for (const [i, width] of widths.entries()) {
    if (used + 2 + width > style.width) break;
    used += 2 + width;
    shown.push(i);
  }
  const line = (name: string, cells: string[]) =>
    [
      padToColumns(cutMiddleToColumns(name, nameWidth), nameWidth),
      ...shown.map((i) => (cells[i] ?? '').padStart(widths[i] ?? 0)),
    ].join('  ');
  out.push(
    paint(
      BOLD,
      line(
        'stream',
        COLUMNS.map((column) => column.title),
      ),
    ),
  );
  for (const { row, cells } of rows) {
    const text = line(row.stream, cells);
    out.push(row.stuck || row.nearlyFull ? paint(RED, text) : text);
  }
  if (status.streams.length < t.streams) out.push(`(${status.streams.length} of ${t.streams} streams shown)`);
  return out;
}

/**
 * A status from a flusher older than this CLI (a rolling upgrade) lacks its alerts, its streams'
 * states and Redis's notes: made here by the same rules, rather than shown without them.
 */
function upToDate(answer: Status): Status {
  if (answer.alerts) return answer;
  const streams = answer.streams.map((row) => ({ ...row, state: row.state ?? stateOf(row) }));
  const status = { ...answer, streams, redis: { ...answer.redis, notes: answer.redis.notes ?? [] } };
  return { ...status, alerts: statusAlerts(status) };
}
