// The memory and time of the flusher's Parquet write alone (its ParquetStage: staging, then
// DuckDB's COPY, then reading the file back), in this process, without Redis or S3: the RSS
// before the COPY, its peak (sampled every 5 ms), the time, and the fallbacks DuckDB forced
// (docs/output.md#parquet). Events are the benches' real-looking ones (about 300 bytes), or with
// `--blob N` each carries N random bytes as base64 (large events: 11000 makes ~15 KB, 22000 ~30 KB).
// `--own-names value|null` gives each event one more top-level field, named for it alone (a user
// id as a key), with a value or null. `--sparse N` gives each event 5 integer fields of N in all
// instead of its own; `--int-array N` an array of N integers. `--stage <path>` runs another build's parquet-stage.js (an
// absolute path in a checkout of its own, built), to compare the two. Run with the flusher's flag:
//   node --max-semi-space-size=2 bench/analysis/parquet-stage-memory.mjs [MiB=256] [--blob N] [--own-names value|null] [--stage PATH]
// Not a scenario of `make bench`.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    blob: { type: 'string' },
    stage: { type: 'string' },
    'own-names': { type: 'string' },
    sparse: { type: 'string' },
    'int-array': { type: 'string' },
  },
});
const stagePath =
  values.stage ?? new URL('../../apps/flusher/dist/parquet-stage.js', import.meta.url).pathname;
const { ParquetStage } = await import(stagePath);

const MiB = 1024 * 1024;
const total = Number(positionals[0] ?? 256) * MiB;
const blob = values.blob === undefined ? undefined : Number(values.blob);
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;

function event(index) {
  if (values.sparse !== undefined || values['int-array'] !== undefined) {
    const fields =
      values.sparse !== undefined
        ? Object.fromEntries(
            Array.from({ length: 5 }, (_, k) => [`f${(index * 5 + k) % Number(values.sparse)}`, index + k]),
          )
        : { values: Array.from({ length: Number(values['int-array']) }, (_, k) => (index * 7 + k) % 1000) };
    const receivedAt = new Date(1_796_000_000_000 + index).toISOString();
    return `${JSON.stringify({ receivedAt, messageId: `m${index}`, ...fields })}\n`;
  }
  const properties = blob
    ? { blob: randomBytes(blob).toString('base64'), n: index, tags: ['a', 'b'] }
    : {
        path: `/p/${index % 300}`,
        plan: index % 2 ? 'pro' : 'free',
        amount: index % 97,
        token: randomBytes(24).toString('base64'),
      };
  const ownName =
    values['own-names'] === undefined
      ? {}
      : { [`user-${index.toString(36)}`]: values['own-names'] === 'null' ? null : index };
  return `${JSON.stringify({
    ...ownName,
    event: ['page', 'track', 'identify'][index % 3],
    userId: `u-${index % 5000}`,
    properties,
    context: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120', locale: 'en-US' },
    receivedAt: new Date(1_796_000_000_000 + index * 37).toISOString(),
    messageId: randomBytes(16).toString('hex'),
  })}\n`;
}

const warnings = [];
const fallbacks = [];
const stage = await ParquetStage.open({
  logger: { warn: (fields, message) => warnings.push(`${message} ${JSON.stringify(fields)}`) },
  fallback: (kind) => fallbacks.push(kind),
});
let events = 0;
let stagingPeak = rss();
const stagingSampler = setInterval(() => {
  stagingPeak = Math.max(stagingPeak, rss());
}, 5);
for (let written = 0; written < total; ) {
  const lines = [];
  for (let bytes = 0; bytes < 4 * MiB && written + bytes < total; events++) {
    const line = event(events);
    lines.push(line);
    bytes += line.length;
  }
  const chunk = Buffer.from(lines.join(''));
  await stage.add(chunk);
  written += chunk.length;
}
clearInterval(stagingSampler);
const before = rss();
let peak = before;
const sampler = setInterval(() => {
  peak = Math.max(peak, rss());
}, 5);
const started = performance.now();
let outputBytes = 0;
for await (const piece of stage.encode()) outputBytes += piece.length;
clearInterval(sampler);
console.log(
  `${events} events, ${(total / MiB).toFixed(0)} MiB: RSS peak ${stagingPeak.toFixed(0)} MiB while staging, ${before.toFixed(0)} before the COPY, ` +
    `peak ${peak.toFixed(0)} (+${(peak - before).toFixed(0)}), ${Math.round(performance.now() - started)} ms, ` +
    `Parquet ${(outputBytes / MiB).toFixed(1)} MiB, fallbacks ${JSON.stringify(fallbacks)}`,
);
for (const warning of warnings) console.log(`  ${warning.slice(0, 160)}`);
