// What a stream's metrics label costs a call: the labeler of today (streamLabeler, which frees
// the labels of idle streams and so reads the clock) against the one before it (a Set of the
// first 1,000 names), alternating in one process, on 50 streams. The ingest asks it two or three
// times a request. Not a scenario of `make bench`.
// Usage: node bench/analysis/stream-labeler.mjs [rounds, default 6] [calls a round, default 5000000]
import { OTHER_STREAMS_LABEL, streamLabeler } from '@spool/shared';

const [rounds = 6, calls = 5_000_000] = process.argv.slice(2).map(Number);

/** The labeler before idle labels were freed (2026-12-07). */
function labelerBefore(max = 1_000) {
  const labelled = new Set();
  return (stream, claim = true) => {
    if (labelled.has(stream)) return stream;
    if (!claim || labelled.size >= max) return OTHER_STREAMS_LABEL;
    labelled.add(stream);
    return stream;
  };
}

const names = Array.from({ length: 50 }, (_, i) => `stream-${i}`);
/** Nanoseconds a call. */
function time(label) {
  const started = process.hrtime.bigint();
  let length = 0;
  for (let i = 0; i < calls; i++) length += label(names[i % names.length]).length;
  if (length === 0) throw new Error('no labels');
  return Number(process.hrtime.bigint() - started) / calls;
}

const results = { before: [], today: [] };
for (let round = 0; round < rounds; round++) {
  results.before.push(time(labelerBefore()));
  results.today.push(time(streamLabeler({ idleAfterMs: 3_600_000 })));
}
const show = (values) => values.map((ns) => ns.toFixed(1)).join(', ');
console.log(`ns a call, ${rounds} rounds of ${calls} calls, alternating`);
console.log(`before (a Set of the first 1,000): ${show(results.before)}`);
console.log(`today (idle labels freed):         ${show(results.today)}`);
