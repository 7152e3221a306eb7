// h. The Segment-compatible /v1/batch against the native events endpoint, each sent the same 100
//    messages per request as analytics-node sends them (type, event, userId, properties, context,
//    timestamp, a messageId of their own, none repeated) at 100 connections: the tracking API's
//    own work (Segment's rules, context merge, clock-skew correction, context.ip) measured against
//    the route it shares buffers, dedupe and flushes with. Target: >= 0.9 x native. Three rounds
//    of native, tracking (5 s each) share the machine's drift.
import { alternate, markdown, startIngest, startStack } from './lib.mjs';

const TARGET = 0.9;
const EVENTS = 100;
const RUN = Date.now().toString(36);

function messages(tag, n) {
  const timestamp = new Date().toISOString();
  return Array.from({ length: EVENTS }, (_, i) => ({
    type: 'track',
    event: 'Page Viewed',
    userId: `u-${i}`,
    properties: { path: '/pricing', referrer: 'https://example.com/' },
    context: { library: { name: 'analytics-node', version: '2.1.3' } },
    timestamp,
    messageId: `${RUN}-${tag}-${n}-${i}`,
  }));
}

export async function run({ rounds = 3, seconds = 5 } = {}) {
  const redis = await startStack();
  const ingest = await startIngest(redis, { DEFAULT_STREAM: 'bench-h-tracking' });
  const [native, tracking] = await alternate(
    redis,
    [
      {
        url: `${ingest}/v1/streams/bench-h/events`,
        stream: 'bench-h',
        makeBody: (round) => (n) => JSON.stringify(messages(`n${round}`, n)),
      },
      {
        url: `${ingest}/v1/batch`,
        stream: 'bench-h-tracking',
        makeBody: (round) => (n) =>
          JSON.stringify({ batch: messages(`t${round}`, n), sentAt: new Date().toISOString() }),
      },
    ],
    { rounds, seconds },
  );
  const ratio = tracking.requestsPerSecond / native.requestsPerSecond;
  redis.redis.disconnect();
  return {
    name: `h. /v1/batch vs the native endpoint, ${EVENTS} messages per request`,
    target: `/v1/batch >= ${TARGET} x native`,
    ratio,
    met: ratio >= TARGET,
    native,
    tracking,
    markdown: markdown(
      `h. /v1/batch vs the native endpoint (${EVENTS} Segment messages per request, 100 connections)`,
      ['', 'req/s', 'events/s', 'p50 ms', 'p99 ms'],
      [
        [
          'native /v1/streams/:stream/events',
          native.requestsPerSecond,
          native.requestsPerSecond * EVENTS,
          native.p50,
          native.p99,
        ],
        [
          'tracking /v1/batch',
          tracking.requestsPerSecond,
          tracking.requestsPerSecond * EVENTS,
          tracking.p50,
          tracking.p99,
        ],
        [`ratio (target >= ${TARGET})`, ratio.toFixed(2), '', '', ''],
      ],
    ),
  };
}
