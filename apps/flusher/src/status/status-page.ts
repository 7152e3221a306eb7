import { createHash } from 'node:crypto';
import { ACTING_CHARACTERS } from '@spool/shared';

/**
 * The status page: one HTML document with its script inline (no assets to serve or fetch), which
 * reads `status.json` 2 s after its last reading ended (one at a time, each given up after 10 s)
 * and redraws. Text goes in through textContent only, so a stream name or an error message can
 * never become markup, and with its controls escaped (`visible`), so a right-to-left override in
 * S3's error message cannot make it read as something else.
 */
const SCRIPT = `
const $ = (id) => document.getElementById(id);
const ACTING = new RegExp(${JSON.stringify(ACTING_CHARACTERS.source)}, 'g');
const visible = (text) => String(text).replace(ACTING, (c) => '\\\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
const bytes = (n) => {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return (i === 0 ? String(Math.round(n)) : n.toFixed(1)) + ' ' + units[i];
};
const count = (n) => (n === null || n === undefined ? '–' : Math.round(n).toLocaleString('en-US'));
const age = (ms) => {
  if (ms === null || ms === undefined) return '–';
  const s = ms / 1000;
  return s < 60 ? s.toFixed(1) + ' s' : s < 3600 ? (s / 60).toFixed(1) + ' min' : (s / 3600).toFixed(1) + ' h';
};
const share = (x) => Math.round(x * 100) + '%';
// Text changes only where it differs: the page is redrawn every 2 s, and a node rewritten (or
// replaced) loses a selection in it (a key being copied) and a screen reader's place.
function setText(node, text) {
  const value = visible(text);
  if (node.textContent !== value) node.textContent = value;
}
// The columns after the stream's name: a cell's class, and its text (or a bar's fraction, red
// when its hot() says so).
const CELLS = [
  { className: 'state', text: (s) => s.state },
  { className: 'num', text: (s) => bytes(s.bufferBytes) },
  { className: 'num', bar: (s) => s.thresholdShare },
  { className: 'num', bar: (s) => s.maxShare, hot: (s) => s.nearlyFull },
  { className: 'num', text: (s, status) => age(s.ageMs) + ' / ' + age(status.settings.flushIntervalMs) },
  { className: 'num', text: (s) => String(s.generation) },
  { className: 'num', text: (s) => s.sealedGenerations + (s.sealedGenerations ? ' (' + bytes(s.sealedBytes) + ', ' + age(s.oldestSealedAgeMs) + ')' : '') },
  { className: 'num accepted', text: (s) => count(s.accepted) },
  { className: 'num landed', text: (s) => count(s.landed) },
  { className: 'num', text: (s) => count(s.duplicates) },
  { className: 'num rejected', text: (s) => count(s.rejected) },
  { className: 'num', text: (s) => count(s.eventsPerSecond) },
  { className: 'num', text: (s) => bytes(s.bytesPerSecond) + '/s' },
  { className: 'object', text: (s) => (s.lastObject ? s.lastObject.key + ' · ' + s.lastObject.landedAt : '–') },
];
// Each stream's row, kept from one reading to the next.
const rows = new Map();
function rowOf(stream) {
  let row = rows.get(stream);
  if (row) return row;
  row = document.createElement('tr');
  row.dataset.stream = stream;
  const name = document.createElement('th');
  name.scope = 'row';
  name.className = 'name';
  name.textContent = visible(stream);
  row.appendChild(name);
  for (const column of CELLS) {
    const td = document.createElement('td');
    td.className = column.className;
    // A bar's cell: the meter, then its figure.
    if (column.bar) td.append(document.createElement('span'), document.createElement('span'));
    row.appendChild(td);
  }
  rows.set(stream, row);
  return row;
}
function fill(row, s, status) {
  row.classList.toggle('stuck', Boolean(s.stuck));
  row.classList.toggle('nearly-full', Boolean(s.nearlyFull));
  CELLS.forEach((column, i) => {
    const td = row.cells[i + 1];
    if (!column.bar) return setText(td, column.text(s, status));
    const fraction = column.bar(s);
    const [meter, figure] = td.children;
    setText(figure, share(fraction));
    const kind = column.hot && column.hot(s) ? 'bar hot' : 'bar';
    if (meter.className !== kind) meter.className = kind;
    const width = Math.min(100, Math.round(fraction * 100)) + '%';
    if (meter.style.width !== width) meter.style.width = width;
  });
}
// Of rows' old places in their new order (-1: a new row), the positions of a longest increasing
// run: rows already in order among themselves (patience sorting, O(n log n)).
function staying(places) {
  const tails = [];
  const previous = [];
  places.forEach((place, i) => {
    if (place < 0) return;
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (places[tails[middle]] < place) low = middle + 1;
      else high = middle;
    }
    previous[i] = low > 0 ? tails[low - 1] : -1;
    tails[low] = i;
  });
  const stay = new Set();
  for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = previous[i]) stay.add(i);
  return stay;
}
const listsShown = new Map();
function showList(id, alerts) {
  const texts = JSON.stringify(alerts.map((a) => a.text));
  if (listsShown.get(id) === texts) return;
  listsShown.set(id, texts);
  $(id).replaceChildren(...alerts.map((a) => {
    const li = document.createElement('li');
    li.textContent = visible(a.text);
    return li;
  }));
}
function render(status) {
  const t = status.totals;
  $('generated').textContent = status.generatedAt;
  $('summary').textContent =
    count(t.streams) + ' streams · ' + bytes(t.bufferBytes) + ' buffered · ' +
    count(t.sealedGenerations) + ' sealed (' + bytes(t.sealedBytes) + ') · ' +
    count(t.accepted) + ' accepted · ' + count(t.landed) + ' landed · ' + count(t.inFlight) + ' in flight · ' +
    (t.eventsPerSecond === null ? '–' : count(t.eventsPerSecond)) + ' events/s · ' + bytes(t.bytesPerSecond) + '/s';
  // Made by the flusher (status-alerts.ts), as spool status says them: what needs attention in
  // red, in a live region (said by a screen reader when it changes, so redrawn only then); the
  // rest (history, Redis's settings worth a look) plainly, apart.
  showList('alerts', status.alerts.filter((a) => a.attention));
  showList('notes', status.alerts.filter((a) => !a.attention));
  const body = $('streams');
  // Those no longer shown go first: in place while the others were placed, each row after one
  // was out of place by one, and moved.
  const shown = new Set(status.streams.map((s) => s.stream));
  for (const [stream, row] of rows) {
    if (shown.has(stream)) continue;
    row.remove();
    rows.delete(stream);
  }
  // Only rows out of place are moved (a moved row loses a selection in it too): those outside the
  // longest run already in the new order. Placed by index, one stream that went down moved every
  // row it passed.
  const placed = status.streams.map((s) => rowOf(s.stream));
  const oldPlace = new Map([...body.children].map((row, i) => [row, i]));
  const stay = staying(placed.map((row) => (oldPlace.has(row) ? oldPlace.get(row) : -1)));
  let next = null;
  for (let i = placed.length - 1; i >= 0; i -= 1) {
    const row = placed[i];
    fill(row, status.streams[i], status);
    if (!stay.has(i) && (row.parentNode !== body || row.nextSibling !== next)) body.insertBefore(row, next);
    next = row;
  }
  $('shown').textContent = status.streams.length < t.streams ? 'showing ' + status.streams.length + ' of ' + t.streams : '';
  const q = status.queue;
  $('queue').textContent = 'waiting ' + q.waiting + ' · active ' + q.active + ' · delayed ' + q.delayed +
    ' · failed ' + q.failed + ' · oldest waiting ' + age(q.oldestWaitingAgeMs);
  const r = status.redis;
  $('redis').textContent = r.unchecked ? r.nodes + ' node(s) · not checked: this Redis user may not run INFO' :
    bytes(r.usedMemoryBytes) + ' used of ' + (r.maxMemoryBytes ? bytes(r.maxMemoryBytes) : 'no maxmemory') +
    ' · ' + r.nodes + ' node(s) · policy ' + r.evictionPolicies.join(', ') + ' · AOF ' + (r.aofEnabled ? 'on' : 'off');
  const attention = status.alerts.some((a) => a.attention);
  document.body.dataset.state = attention ? 'attention' : 'ok';
  // A tab in the background says it too.
  document.title = (attention ? '(!) ' : '') + 'Spool status';
}
// One reading at a time, each given up after 10 s (as spool status does): a flusher that stopped
// answering (a hung process, a stalled port-forward) left the page showing old figures, or an old
// "still reading" message, as if current, with a request more in flight every 2 s.
const EVERY_MS = 2000;
const TIMEOUT_MS = 10000;
let readAt = 0;
async function refresh() {
  try {
    // Beside the page, but without the key a user may have typed into the address before the
    // host: fetch refuses a URL that holds credentials.
    const url = new URL('status.json', location.href);
    url.username = '';
    url.password = '';
    const answer = await fetch(url, { cache: 'no-store', credentials: 'same-origin', signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (answer.status === 503) throw new Error((await answer.json()).message);
    if (!answer.ok) throw new Error('status.json answered ' + answer.status);
    render(await answer.json());
    readAt = Date.now();
    setText($('connection-reason'), '');
    $('stale').textContent = '';
  } catch (error) {
    const reason = error.name === 'TimeoutError' ? 'the flusher did not answer in ' + TIMEOUT_MS / 1000 + ' s' : error.message;
    // The reason in a live region, said once; the figures' age, which grows every 2 s, beside it.
    setText($('connection-reason'), 'cannot read the status: ' + reason);
    $('stale').textContent = readAt ? ' (the figures below are ' + age(Date.now() - readAt) + ' old)' : '';
    document.title = '(not current) Spool status';
  } finally {
    setTimeout(refresh, EVERY_MS);
  }
}
refresh();
`;

export const STATUS_PAGE_CSP = `default-src 'none'; connect-src 'self'; style-src 'unsafe-inline'; script-src 'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Spool status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d232a; }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
  h2 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
  .muted { color: #66707a; }
  #alerts { color: #a4161a; font-weight: 600; padding-left: 1.2rem; }
  #notes { padding-left: 1.2rem; }
  #connection { color: #a4161a; font-weight: 600; }
  .table { overflow-x: auto; }
  .table:focus-visible { outline: 2px solid #2f80ed; }
  table { border-collapse: collapse; width: 100%; }
  th, td { padding: .25rem .5rem; border-bottom: 1px solid #e3e6ea; white-space: nowrap; text-align: left; }
  th { font-weight: 600; background: #f5f6f8; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; position: relative; }
  td.object { font-family: ui-monospace, monospace; font-size: 12px; }
  /* The stream's name stays in sight while the table scrolls sideways (a phone, 200 % zoom). */
  th.name, thead th:first-child { position: sticky; left: 0; z-index: 1; background: #fff; font-weight: 600; }
  thead th:first-child { background: #f5f6f8; }
  td.state { font-weight: 600; }
  tr.stuck td, tr.stuck th { background: #fde8e8; }
  tr.stuck td.state, tr.nearly-full td.state { color: #a4161a; }
  .bar { position: absolute; left: 0; bottom: 0; height: 3px; background: #2f80ed; }
  .bar.hot { background: #d62828; }
</style>
</head>
<body data-state="loading">
<main>
<h1>Spool status</h1>
<div class="muted">as of <span id="generated">…</span> <span id="connection"><span id="connection-reason" role="status"></span><span id="stale"></span></span></div>
<p id="summary"></p>
<ul id="alerts" aria-live="polite"></ul>
<ul id="notes"></ul>
<h2 id="streams-heading">Streams <span id="shown" class="muted"></span></h2>
<div class="table" tabindex="0" role="region" aria-labelledby="streams-heading"><table>
<thead><tr><th scope="col">stream</th><th scope="col">state</th><th scope="col">buffer</th><th scope="col">of threshold</th><th scope="col">of max</th><th scope="col">age / interval</th><th scope="col">gen</th><th scope="col">sealed waiting</th><th scope="col">accepted</th><th scope="col">landed</th><th scope="col">duplicates</th><th scope="col">rejected</th><th scope="col">events/s</th><th scope="col">bytes/s</th><th scope="col">last object</th></tr></thead>
<tbody id="streams"></tbody>
</table></div>
<h2>Flush queue</h2>
<p id="queue"></p>
<h2>Redis</h2>
<p id="redis"></p>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
