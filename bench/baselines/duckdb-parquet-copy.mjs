// The Parquet baseline (bench k): DuckDB's own NDJSON -> Parquet COPY of a file, as a data team
// would run it, with DuckDB's defaults (every core, schema detected from a sample) and the
// flusher's column compression (zstd). Usage: node duckdb-parquet-copy.mjs [--one-thread] <file.ndjson>
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The flusher's own DuckDB (pnpm keeps it under the package that depends on it).
const require = createRequire(new URL('../../apps/flusher/package.json', import.meta.url));
const { DuckDBInstance } = await import(require.resolve('@duckdb/node-api'));

const args = process.argv.slice(2);
const file = args.at(-1);
const options = args.includes('--one-thread') ? { threads: '1' } : {};
const dir = mkdtempSync(join(tmpdir(), 'spool-bench-parquet-'));
try {
  const connection = await (await DuckDBInstance.create(':memory:', options)).connect();
  await connection.run(
    `COPY (SELECT * FROM read_json('${file}')) TO '${join(dir, 'out.parquet')}' (FORMAT parquet, COMPRESSION zstd)`,
  );
  connection.closeSync();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
