// k. Flusher, OUTPUT_FORMAT=parquet: time and peak RSS to flush a 256 MiB buffer of
//    real-looking events to S3 as Parquet, against DuckDB's own NDJSON -> Parquet COPY of the
//    same bytes from a file (every core, its defaults, zstd columns).
//    Target: >= 0.5 x DuckDB's COPY, peak RSS under 200 MiB. The flusher's DuckDB runs on one
//    thread (docs/output.md says why).
import { flushScenario } from './lib.mjs';

export function run() {
  return flushScenario({
    id: 'k',
    name: 'k. flusher (parquet) vs DuckDB COPY',
    format: 'parquet',
    target: 0.5,
    baselines: [
      {
        label: 'DuckDB COPY to Parquet (every core)',
        command: process.execPath,
        args: [new URL('./baselines/duckdb-parquet-copy.mjs', import.meta.url).pathname],
      },
      {
        label: 'DuckDB COPY to Parquet (one thread)',
        command: process.execPath,
        args: [new URL('./baselines/duckdb-parquet-copy.mjs', import.meta.url).pathname, '--one-thread'],
      },
    ],
  });
}
