// f. messageId dedupe on (DEDUPE_WINDOW=10m, the default) vs off (0), every event carrying a
//    messageId of its own and none repeated, so each one is looked up and remembered: single-event
//    requests and 100-event batches, at 100 connections. Target: on >= 0.8 x off, for both.
//    Each pair alternates off, on, off, on (5 s each) to share the machine's drift.
import { load, markdown, startIngest, startRedis } from './lib.mjs';

const run_ = Date.now().toString(36);
const event = (id) => `{"messageId":"${id}","event":"page","userId":"u-123","path":"/pricing"}`;
const SHAPES = {
  single: { events: 1, makeBody: (tag) => (n) => event(`${run_}-${tag}-${n}`) },
  batch: {
    events: 100,
    makeBody: (tag) => (n) =>
      `[${Array.from({ length: 100 }, (_, i) => event(`${run_}-${tag}-${n}-${i}`)).join(',')}]`,
  },
};

export async function run({ seconds = 5 } = {}) {
  const redis = await startRedis();
  const ingests = {
    off: await startIngest(redis.url, { DEDUPE_WINDOW: '0' }),
    on: await startIngest(redis.url, { DEDUPE_WINDOW: '10m' }),
  };
  const measured = {};
  for (const [shape, { events, makeBody }] of Object.entries(SHAPES)) {
    const totals = { off: { requests: 0, p99: [] }, on: { requests: 0, p99: [] } };
    for (const [round, mode] of ['off', 'on', 'off', 'on'].entries()) {
      const result = await load(`${ingests[mode]}/v1/streams/bench-f-${shape}-${mode}/events`, {
        makeBody: makeBody(`${shape}${round}`),
        seconds,
      });
      if (result.non2xx + result.errors > 0) throw new Error(`bench f: ${mode} ${shape} answered errors`);
      totals[mode].requests += result.requestsPerSecond / 2;
      totals[mode].p99.push(result.p99);
    }
    measured[shape] = {
      offEventsPerSecond: Math.round(totals.off.requests * events),
      onEventsPerSecond: Math.round(totals.on.requests * events),
      ratio: totals.on.requests / totals.off.requests,
      offP99: Math.max(...totals.off.p99),
      onP99: Math.max(...totals.on.p99),
    };
  }
  redis.redis.disconnect();
  const ratio = Math.min(measured.single.ratio, measured.batch.ratio);
  const row = (name, m) => [
    name,
    m.offEventsPerSecond,
    m.onEventsPerSecond,
    m.ratio.toFixed(2),
    `${m.offP99} / ${m.onP99}`,
  ];
  return {
    name: 'f. messageId dedupe on vs off',
    target: 'dedupe on >= 0.8 x off, single events and 100-event batches',
    ratio,
    met: ratio >= 0.8,
    measured,
    markdown: markdown(
      'f. Dedupe on (DEDUPE_WINDOW=10m) vs off (0), every event with a new messageId, 100 connections',
      ['', 'events/s off', 'events/s on', 'on / off (target >= 0.8)', 'p99 ms off / on'],
      [row('single-event requests', measured.single), row('100-event batches', measured.batch)],
    ),
  };
}
