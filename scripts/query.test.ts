import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from '@jest/globals';

/** `make query`: SQL with the flusher's DuckDB, as docs/output.md's queries on make dev's store need. */
const QUERY = fileURLToPath(new URL('query.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'spool-query-'));
const query = (sql: string, env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, [QUERY, sql], {
    cwd: dir,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The query docs/output.md gives for `make query`: the first SQL block after it names this test. */
function docsQuery(): string {
  const docs = readFileSync(fileURLToPath(new URL('../docs/output.md', import.meta.url)), 'utf8');
  const after = docs.slice(docs.indexOf('held to this query by `scripts/query.test.ts`'));
  const block = /```sql\n([\s\S]*?)```/.exec(after)?.[1];
  if (block === undefined) throw new Error('docs/output.md no longer gives the query this test runs');
  return block;
}

describe('make query', () => {
  it("runs docs/output.md's query on objects laid out as make dev's stand-in keeps them", () => {
    const folder = join(dir, '.data/s3/spool/stream=web/dt=2026-12-04/hour=3');
    mkdirSync(folder, { recursive: true });
    const lines = ['{"event":"signup"}', '{"event":"page"}', '{"event":"page"}'].map((line) => `${line}\n`);
    writeFileSync(join(folder, '0000000001-0000000001.ndjson.gz._S3rver_object'), gzipSync(lines.join('')));
    const run = query(docsQuery());
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/│ 'web'\s+│ '2026-12-04'\s+│ '3'\s+│/);
  });

  it('gets the SQL of `make query SQL="…"` as written: `$.` and `$$` are not make\'s', () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const sql = `SELECT '{"page":{"path":"/a"}}'->>'$.page.path' AS path, 'it''s $$1' AS text,
  2 AS line`;
    const run = spawnSync('make', ['-s', '-C', root, 'query', `SQL=${sql}`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/│ '\/a'\s+│ "it's \$\$1"\s+│ 2\s+│/);
  });

  it('reads times in UTC, as Spool writes them, on a machine in another zone', () => {
    // A Parquet object's times are TIMESTAMPTZ: their day is the session zone's.
    const run = query("SELECT CAST(TIMESTAMPTZ '2026-12-07 01:00:00+00' AS DATE)::VARCHAR AS day", {
      ...process.env,
      TZ: 'America/New_York',
    });
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/│ '2026-12-07'\s+│/);
  });

  it('says what DuckDB refused, exit 1, and what it needs, exit 64', () => {
    const refused = query('SELEC 1');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^query: Parser Error: syntax error at or near "SELEC"/);
    const empty = query('');
    expect(empty.status).toBe(64);
    expect(empty.stderr).toContain('usage: make query SQL=');
  });
});
