// The cost of writing the server's fields first in a stored line (bb1b4ed), against the order
// before it (the two fields appended; copied here from to-lines.ts as it was), in one process,
// alternating: ns per event for 1,000 Segment-like events, half with a messageId of their own.
// Not a scenario of `make bench`. Usage: node bench/analysis/stored-line-order.mjs [rounds]
import { randomUUID } from 'node:crypto';
import { storedLine } from '../../apps/ingest/dist/body/to-lines.js';

function appendedLine(event, stamp) {
  const ownId = typeof event.messageId === 'string' && event.messageId !== '' ? event.messageId : undefined;
  if (Object.hasOwn(event, 'receivedAt') || (Object.hasOwn(event, 'messageId') && ownId === undefined)) {
    return `${JSON.stringify({ ...event, receivedAt: stamp, messageId: ownId ?? randomUUID() })}\n`;
  }
  const json = JSON.stringify(event);
  const added = ownId
    ? `"receivedAt":"${stamp}"}\n`
    : `"receivedAt":"${stamp}","messageId":"${randomUUID()}"}\n`;
  return json === '{}' ? `{${added}` : `${json.slice(0, -1)},${added}`;
}

const events = Array.from({ length: 1_000 }, (_, i) => ({
  type: 'track',
  event: 'Page Viewed',
  userId: `u-${i}`,
  properties: { path: '/pricing', referrer: 'https://example.com/' },
  context: { library: { name: 'analytics-node', version: '2.1.3' } },
  timestamp: '2026-12-04T00:00:00.000Z',
  ...(i % 2 ? { messageId: `m-${i}` } : {}),
}));
const stamp = new Date().toISOString();
const REPEATS = 300;
let written = 0;
const nsPerEvent = (line) => {
  const start = process.hrtime.bigint();
  for (let r = 0; r < REPEATS; r++) for (const event of events) written += line(event, stamp).length;
  return Number(process.hrtime.bigint() - start) / (REPEATS * events.length);
};
const rounds = Number(process.argv[2] ?? 5);
for (let round = 1; round <= rounds; round++) {
  console.log(
    `round ${round}: fields appended ${nsPerEvent(appendedLine).toFixed(0)} ns/event, fields first ${nsPerEvent(storedLine).toFixed(0)} ns/event`,
  );
}
console.log(`(${written} bytes written)`);
