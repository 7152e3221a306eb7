// make bench: runs each scenario beside its baseline, prints the tables, writes
// bench/results/<timestamp>.json and .md. Usage: node bench/run.mjs [a] [b] … [k]
import { cpus, totalmem } from 'node:os';
import { stopAll, writeResults } from './lib.mjs';

const SCENARIOS = {
  a: './a-ingest-vs-bare-fastify.mjs',
  b: './b-batch-events-vs-bare-fastify.mjs',
  c: './c-latency-vs-buffer-size.mjs',
  d: './d-flusher-vs-gzip.mjs',
  e: './e-freshness.mjs',
  f: './f-dedupe-on-vs-off.mjs',
  g: './g-dedupe-memory.mjs',
  h: './h-tracking-batch-vs-native.mjs',
  i: './i-cluster-vs-one-redis.mjs',
  j: './j-flusher-vs-zstd.mjs',
  k: './k-flusher-vs-duckdb-parquet.mjs',
};

const chosen = process.argv.slice(2);
const usage = `usage: node bench/run.mjs [${Object.keys(SCENARIOS).join('] [')}]   (none: all; make bench ARGS="a c")`;
if (chosen.includes('--help') || chosen.includes('-h')) {
  console.log(usage);
  process.exit(0);
}
if (chosen.some((name) => !(name in SCENARIOS))) {
  console.error(usage);
  process.exit(2);
}
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const results = {
  startedAt: new Date().toISOString(),
  machine,
  scenarios: [],
  markdown: [`Machine: ${machine}\n`],
};
try {
  for (const name of chosen.length > 0 ? chosen : Object.keys(SCENARIOS)) {
    const { run } = await import(SCENARIOS[name]);
    const result = await run();
    await stopAll();
    results.scenarios.push(result);
    results.markdown.push(result.markdown);
    console.log(`${result.met ? 'MET' : 'NOT MET'}: ${result.target} (ratio ${result.ratio.toFixed(2)})`);
  }
} finally {
  await stopAll();
}
console.log(`\nresults: ${writeResults(results)}`);
