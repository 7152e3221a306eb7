// The ingest's own CPU for one request of 100 events, step by step, in this process (no HTTP, no
// Redis): parsing the body, and building its stored lines, against plain JSON.parse and
// JSON.stringify of the same events. Run after a build (it loads apps/ingest/dist). Not a scenario
// of `make bench`; an analysis of where a batch's time goes.
// Usage: node bench/analysis/request-cpu.mjs
import { parseBody } from '../../apps/ingest/dist/body/parse-body.js';
import { toLines } from '../../apps/ingest/dist/body/to-lines.js';
import { messageNormalizer } from '../../apps/ingest/dist/tracking/message.js';

const EVENTS = 100;
const native = Array.from({ length: EVENTS }, (_, i) => ({
  event: 'page',
  userId: `u-${i}`,
  path: '/pricing',
}));
const raw = Buffer.from(JSON.stringify(native));
const limits = { maxEventBytes: 32_768, maxStoredBytes: 2 ** 21 };
const now = new Date();
const segment = () =>
  Array.from({ length: EVENTS }, (_, i) => ({
    type: 'track',
    event: 'Page Viewed',
    userId: `u-${i}`,
    properties: { path: '/pricing' },
    context: { library: { name: 'analytics-node', version: '2.1.3' } },
    timestamp: now.toISOString(),
    messageId: `m-${i}`,
  }));

function time(name, step, runs = 20_000) {
  for (let i = 0; i < 2_000; i++) step();
  const start = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) step();
  const micros = Number(process.hrtime.bigint() - start) / runs / 1000;
  console.log(`${name.padEnd(58)} ${micros.toFixed(1).padStart(6)} µs`);
}

const parsed = parseBody(raw, 'json', 2_500);
time(`JSON.parse of the body (${raw.length} bytes, ${EVENTS} events)`, () => JSON.parse(raw.toString()));
time('parseBody (UTF-8 check, decode, JSON.parse)', () => parseBody(raw, 'json', 2_500));
time('JSON.stringify of each event', () => {
  for (const event of native) JSON.stringify(event);
});
time('toLines: checks, receivedAt and messageId, stored lines', () => toLines(parsed, now, limits));
const envelope = {
  receivedAt: now.toISOString(),
  sentAt: now.toISOString(),
  ip: '203.0.113.7',
  ipPolicy: 'keep',
};
time('toLines of Segment messages, normalized (tracking API)', () => {
  // The normalizer changes its messages in place: each run gets fresh ones, as each request does.
  const body = { shape: 'batch', items: segment().map((value) => ({ value })) };
  toLines(body, now, limits, messageNormalizer(envelope));
});
time('  of which making the fresh messages (not part of a request)', () => segment());
