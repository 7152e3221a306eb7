// f. messageId dedupe on vs off (DEDUPE_WINDOW=0), every event carrying a messageId of its own
//    and none repeated, so each one is looked up and remembered, at 100 connections: single-event
//    requests and 100-event batches with the default 10-minute window (its sets still filling
//    during the run), and 100-event batches with a 4-second window, whose sets turn over during
//    the run as a full window's do (each id looked up in three sets of ~1 s of ids: the steady
//    state). Target: on >= 0.8 x off, for each. Each pair alternates off, on, off, on (5 s each)
//    to share the machine's drift. The ingest, Redis and autocannon share the machine's cores.
import { alternate, markdown, startIngest, startStack, uniqueIdBodies } from './lib.mjs';

const { single, batch } = uniqueIdBodies();
const SHAPES = [
  { name: 'single-event requests, window 10m', events: 1, makeBody: single, window: '10m' },
  { name: '100-event batches, window 10m', events: 100, makeBody: batch, window: '10m' },
  { name: '100-event batches, window 4s (steady state)', events: 100, makeBody: batch, window: '4s' },
];

export async function run({ seconds = 5 } = {}) {
  const redis = await startStack();
  const off = await startIngest(redis, { DEDUPE_WINDOW: '0' });
  const on = {};
  for (const { window } of SHAPES) on[window] ??= await startIngest(redis, { DEDUPE_WINDOW: window });
  const measured = [];
  for (const [index, { name, events, makeBody, window }] of SHAPES.entries()) {
    const side = (mode, url) => ({
      url: `${url}/v1/streams/bench-f-${index}-${mode}/events`,
      makeBody: (round) => makeBody(`${index}${mode}${round}`),
      stream: `bench-f-${index}-${mode}`,
    });
    const [offResult, onResult] = await alternate(redis, [side('off', off), side('on', on[window])], {
      seconds,
    });
    measured.push({
      name,
      offEventsPerSecond: offResult.requestsPerSecond * events,
      onEventsPerSecond: onResult.requestsPerSecond * events,
      ratio: onResult.requestsPerSecond / offResult.requestsPerSecond,
      offP99: offResult.p99,
      onP99: onResult.p99,
    });
  }
  redis.redis.disconnect();
  const ratio = Math.min(...measured.map((m) => m.ratio));
  return {
    name: 'f. messageId dedupe on vs off',
    target: 'dedupe on >= 0.8 x off, single events and 100-event batches',
    ratio,
    met: ratio >= 0.8,
    measured,
    markdown: markdown(
      'f. Dedupe on vs off (DEDUPE_WINDOW=0), every event with a new messageId, 100 connections',
      ['', 'events/s off', 'events/s on', 'on / off (target >= 0.8)', 'p99 ms off / on'],
      measured.map((m) => [
        m.name,
        m.offEventsPerSecond,
        m.onEventsPerSecond,
        m.ratio.toFixed(2),
        `${m.offP99} / ${m.onP99}`,
      ]),
    ),
  };
}
