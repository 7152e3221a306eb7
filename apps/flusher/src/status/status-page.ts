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
function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = visible(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}
function bar(row, fraction) {
  const td = cell(row, share(fraction), 'num');
  const meter = document.createElement('span');
  meter.className = 'bar' + (fraction >= 0.9 ? ' hot' : '');
  meter.style.width = Math.min(100, Math.round(fraction * 100)) + '%';
  td.prepend(meter);
}
function render(status) {
  const t = status.totals;
  $('generated').textContent = status.generatedAt;
  $('summary').textContent =
    count(t.streams) + ' streams · ' + bytes(t.bufferBytes) + ' buffered · ' +
    count(t.sealedGenerations) + ' sealed (' + bytes(t.sealedBytes) + ') · ' +
    count(t.accepted) + ' accepted · ' + count(t.landed) + ' landed · ' + count(t.inFlight) + ' in flight · ' +
    (t.eventsPerSecond === null ? '–' : count(t.eventsPerSecond)) + ' events/s · ' + bytes(t.bytesPerSecond) + '/s';
  const alerts = $('alerts');
  alerts.replaceChildren();
  const alert = (text) => { const li = document.createElement('li'); li.textContent = visible(text); alerts.appendChild(li); };
  if (t.stuck > 0) alert(t.stuck + ' stream(s) stuck: data older than twice FLUSH_INTERVAL (' + age(2 * status.settings.flushIntervalMs) + ')');
  if (t.countersLost > 0) alert(t.countersLost + ' stream(s) landed more events than they accepted: their counters in Redis were lost (a failover, a deleted key); check their objects with spool verify');
  if (status.lastFlushError) {
    const e = status.lastFlushError;
    alert('last flush error, ' + e.at + ' (' + e.stream + '): ' + e.type + ': ' + e.message +
      (e.landedSince ? ' (its stream has landed since)' : ''));
  }
  for (const warning of status.redis.warnings) alert('Redis: ' + warning);
  const body = $('streams');
  body.replaceChildren();
  for (const s of status.streams) {
    const row = document.createElement('tr');
    if (s.stuck) row.className = 'stuck';
    row.dataset.stream = s.stream;
    cell(row, s.stream, 'name');
    cell(row, bytes(s.bufferBytes), 'num');
    bar(row, s.thresholdShare);
    bar(row, s.maxShare);
    cell(row, age(s.ageMs) + ' / ' + age(status.settings.flushIntervalMs), 'num');
    cell(row, String(s.generation), 'num');
    cell(row, s.sealedGenerations + (s.sealedGenerations ? ' (' + bytes(s.sealedBytes) + ', ' + age(s.oldestSealedAgeMs) + ')' : ''), 'num');
    cell(row, count(s.accepted), 'num accepted');
    cell(row, count(s.landed), 'num landed');
    cell(row, count(s.duplicates), 'num');
    cell(row, count(s.rejected), 'num rejected');
    cell(row, count(s.eventsPerSecond), 'num');
    cell(row, bytes(s.bytesPerSecond) + '/s', 'num');
    cell(row, s.lastObject ? s.lastObject.key + ' · ' + s.lastObject.landedAt : '–', 'object');
    body.appendChild(row);
  }
  $('shown').textContent = status.streams.length < t.streams ? 'showing ' + status.streams.length + ' of ' + t.streams : '';
  const q = status.queue;
  $('queue').textContent = 'waiting ' + q.waiting + ' · active ' + q.active + ' · delayed ' + q.delayed +
    ' · failed ' + q.failed + ' · oldest waiting ' + age(q.oldestWaitingAgeMs);
  const r = status.redis;
  $('redis').textContent = r.unchecked ? r.nodes + ' node(s) · not checked: this Redis user may not run INFO' :
    bytes(r.usedMemoryBytes) + ' used of ' + (r.maxMemoryBytes ? bytes(r.maxMemoryBytes) : 'no maxmemory') +
    ' · ' + r.nodes + ' node(s) · policy ' + r.evictionPolicies.join(', ') + ' · AOF ' + (r.aofEnabled ? 'on' : 'off');
  const failing = status.lastFlushError && !status.lastFlushError.landedSince;
  document.body.dataset.state = t.stuck > 0 || t.countersLost > 0 || failing ? 'attention' : 'ok';
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
    $('connection').textContent = '';
  } catch (error) {
    const reason = error.name === 'TimeoutError' ? 'the flusher did not answer in ' + TIMEOUT_MS / 1000 + ' s' : error.message;
    const stale = readAt ? ' (the figures below are ' + age(Date.now() - readAt) + ' old)' : '';
    $('connection').textContent = visible('cannot read the status: ' + reason + stale);
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
  #connection { color: #a4161a; }
  .table { overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; }
  th, td { padding: .25rem .5rem; border-bottom: 1px solid #e3e6ea; white-space: nowrap; text-align: left; }
  th { font-weight: 600; background: #f5f6f8; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; position: relative; }
  td.object { font-family: ui-monospace, monospace; font-size: 12px; }
  tr.stuck td { background: #fde8e8; }
  .bar { position: absolute; left: 0; bottom: 0; height: 3px; background: #2f80ed; }
  .bar.hot { background: #d62828; }
</style>
</head>
<body data-state="loading">
<h1>Spool status</h1>
<div class="muted">as of <span id="generated">…</span> <span id="connection"></span></div>
<p id="summary"></p>
<ul id="alerts"></ul>
<h2>Streams <span id="shown" class="muted"></span></h2>
<div class="table"><table>
<thead><tr><th>stream</th><th>buffer</th><th>of threshold</th><th>of max</th><th>age / interval</th><th>gen</th><th>sealed waiting</th><th>accepted</th><th>landed</th><th>duplicates</th><th>rejected</th><th>events/s</th><th>bytes/s</th><th>last object</th></tr></thead>
<tbody id="streams"></tbody>
</table></div>
<h2>Flush queue</h2>
<p id="queue"></p>
<h2>Redis</h2>
<p id="redis"></p>
<script>${SCRIPT}</script>
</body>
</html>
`;
