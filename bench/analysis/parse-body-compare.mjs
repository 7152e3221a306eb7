// parseBody (the ingest's parse, and the survey that weighs the parsed body) of scenario b's
// 100-event body and of 100 Segment messages like h's: this build against another, alternating,
// in this process. Not a scenario of `make bench`; an A/B analysis of the parse.
// Usage: node bench/analysis/parse-body-compare.mjs <other checkout's root, built>
import { join } from 'node:path';

const other = process.argv[2];
if (!other) {
  console.error('usage: node bench/analysis/parse-body-compare.mjs <other checkout, built>');
  process.exit(2);
}
const [newer, older] = await Promise.all([
  import(new URL('../../apps/ingest/dist/body/parse-body.js', import.meta.url).href),
  import(join(other, 'apps/ingest/dist/body/parse-body.js')),
]);
const native = Buffer.from(
  JSON.stringify(
    Array.from({ length: 100 }, (_, i) => ({ event: 'page', userId: `u-${i}`, path: '/pricing' })),
  ),
);
const ts = new Date().toISOString();
const segment = Buffer.from(
  JSON.stringify(
    Array.from({ length: 100 }, (_, i) => ({
      type: 'track',
      event: 'Page Viewed',
      userId: `u-${i}`,
      properties: { path: '/pricing', referrer: 'https://example.com/' },
      context: { library: { name: 'analytics-node', version: '2.1.3' } },
      timestamp: ts,
      messageId: `m-${i}`,
    })),
  ),
);
function time(parse, raw, runs = 20000) {
  for (let i = 0; i < 2000; i++) parse(raw, 'json', 2500);
  const s = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) parse(raw, 'json', 2500);
  return Number(process.hrtime.bigint() - s) / runs / 1000;
}
for (let round = 0; round < 6; round++) {
  const row = [];
  for (const [name, raw] of [
    ['b', native],
    ['h', segment],
  ]) {
    row.push(
      `${name}: this ${time(newer.parseBody, raw).toFixed(1)} other ${time(older.parseBody, raw).toFixed(1)} µs`,
    );
  }
  console.log(row.join('   '));
}
