import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RedisClient } from '@spool/shared';
import { waitUntilLanded } from '@spool/testkit/landing';
import { LocalStack } from '@spool/testkit/local-stack';

/**
 * The objects as a data team reads them: DuckDB over the Hive partitions, one query per format
 * (OUTPUT_FORMAT by stream: one stream gzip, one zstd). The S3 stand-in keeps each object's bytes
 * in `<key>._S3rver_object` on disk, so DuckDB reads those files, told the compression (it would
 * guess it from a `.gz` or `.zst` name).
 */
const dir = mkdtempSync(join(tmpdir(), 'spool-lake-'));
const BUCKET = 'lake';
const STREAMS = { 'ndjson.gz': 'lake-gz', 'ndjson.zst': 'lake-zst' } as const;
const EVENTS = ['page', 'signup', 'purchase'] as const;
const PER_STREAM = 3_000;
let stack: LocalStack;
let redis: RedisClient;

/** Sends PER_STREAM events to `stream`, each with a messageId, a number and a nested object. */
async function send(url: string, stream: string): Promise<void> {
  for (let first = 0; first < PER_STREAM; first += 100) {
    const batch = Array.from({ length: 100 }, (_, i) => {
      const n = first + i;
      return {
        messageId: `${stream}-${n}`,
        event: EVENTS[n % EVENTS.length],
        amount: n % 97,
        context: { page: { path: `/p/${n % 7}` } },
      };
    });
    const answer = await fetch(`${url}/v1/streams/${stream}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(batch),
    });
    expect(answer.status).toBe(202);
  }
}

beforeAll(async () => {
  stack = await LocalStack.start({ dataDir: dir, s3: { bucket: BUCKET } });
  const env = { FLUSH_INTERVAL: '2s', OUTPUT_FORMAT: `${STREAMS['ndjson.zst']}:ndjson.zst,*:ndjson.gz` };
  const ingest = await stack.addIngest(env);
  await stack.addFlusher(env);
  redis = stack.connectRedis();
  for (const stream of Object.values(STREAMS)) await send(ingest.url, stream);
  await waitUntilLanded(redis, Object.values(STREAMS), { timeoutMs: 60_000 });
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(Object.entries(STREAMS))('objects written as %s', (format, stream) => {
  const compression = format === 'ndjson.zst' ? 'zstd' : 'gzip';
  const files = () => `${join(dir, 's3', BUCKET)}/stream=${stream}/dt=*/hour=*/*.${format}._S3rver_object`;
  const source = () =>
    `read_json_auto('${files()}', compression = '${compression}', hive_partitioning = true)`;

  async function query(sql: string): Promise<Record<string, unknown>[]> {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
    } finally {
      connection.closeSync();
    }
  }

  it('are read by DuckDB with their partitions: the counts per event are what was sent', async () => {
    const rows = await query(
      `SELECT stream, event, count(*) AS events, count(DISTINCT messageId) AS ids FROM ${source()} GROUP BY ALL ORDER BY event`,
    );
    expect(rows).toEqual([...EVENTS].sort().map((event) => ({ stream, event, events: 1_000n, ids: 1_000n })));
  });

  it('give typed columns: receivedAt a TIMESTAMP, numbers BIGINT, the partitions DATE and BIGINT', async () => {
    const columns = Object.fromEntries(
      (await query(`DESCRIBE SELECT * FROM ${source()}`)).map((row) => [row.column_name, row.column_type]),
    );
    expect(columns).toMatchObject({
      receivedAt: 'TIMESTAMP',
      amount: 'BIGINT',
      messageId: 'VARCHAR',
      dt: 'DATE',
      hour: 'BIGINT',
      stream: 'VARCHAR',
    });
    const [{ paths } = {}] = await query(
      `SELECT count(DISTINCT context.page.path) AS paths FROM ${source()}`,
    );
    expect(paths).toBe(7n);
  });
});
