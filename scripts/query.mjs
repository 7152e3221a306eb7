// `make query SQL="…"` (or the SQL on stdin): runs it with the DuckDB the flusher uses
// (@duckdb/node-api, an in-memory database) and prints the rows as a table. For reading make
// dev's objects as docs/output.md shows, without installing DuckDB's own CLI.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const flusher = createRequire(new URL('../apps/flusher/package.json', import.meta.url));
const { DuckDBInstance } = await import(flusher.resolve('@duckdb/node-api'));
const sql = (process.argv[2] || (process.stdin.isTTY ? '' : readFileSync(0, 'utf8'))).trim();
if (!sql) {
  console.error('usage: make query SQL="SELECT …"   (or the SQL on stdin: make query < file.sql)');
  process.exit(64);
}
const connection = await (await DuckDBInstance.create(':memory:')).connect();
try {
  // Spool's times are UTC: NDJSON's read as TIMESTAMP (no zone), Parquet's as TIMESTAMPTZ, which
  // DuckDB casts, truncates and compares in the session's zone, by default the machine's. In New
  // York a day's filter on a Parquet object missed the day's events (a review's run).
  await connection.run("SET TimeZone = 'UTC'");
  const reader = await connection.runAndReadAll(sql);
  console.table(reader.getRowObjectsJson());
} catch (error) {
  console.error(`query: ${error.message}`);
  process.exit(1);
}
