import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RedisClient } from '@spool/shared';
import { duckdbQuery as query } from '@spool/testkit/duckdb';
import { waitUntilLanded } from '@spool/testkit/landing';
import { LocalStack } from '@spool/testkit/local-stack';

/**
 * The objects as a data team reads them: DuckDB over the Hive partitions, one query per format
 * (OUTPUT_FORMAT by stream: one stream gzip, one zstd, one Parquet). The S3 stand-in keeps each
 * object's bytes in `<key>._S3rver_object` on disk, so DuckDB reads those files, told the
 * compression (it would guess it from a `.gz` or `.zst` name) or the format.
 */
const dir = mkdtempSync(join(tmpdir(), 'spool-lake-'));
const BUCKET = 'lake';
const STREAMS = { 'ndjson.gz': 'lake-gz', 'ndjson.zst': 'lake-zst', parquet: 'lake-parquet' } as const;
const EVENTS = ['page', 'signup', 'purchase'] as const;
const PER_STREAM = 3_000;
/** A Parquet stream whose fields change type between two generations. */
const EVOLVING = 'lake-evolve';
let stack: LocalStack;
let redis: RedisClient;
let ingestUrl: string;

/** A 64-bit id past 2^53 per event, as a Go, Java or Python client sends one: a double cannot hold most of them. */
const FIRST_BIG_ID = 9_007_199_254_740_993n;

/**
 * Sends PER_STREAM events to `stream`, each with a messageId, a number, a 64-bit id past 2^53
 * (written into the JSON text: JavaScript's own numbers cannot hold it) and a nested object.
 */
async function send(url: string, stream: string): Promise<void> {
  for (let first = 0; first < PER_STREAM; first += 100) {
    const batch = Array.from({ length: 100 }, (_, i) => {
      const n = first + i;
      return {
        messageId: `${stream}-${n}`,
        event: EVENTS[n % EVENTS.length],
        amount: n % 97,
        accountId: `big:${FIRST_BIG_ID + BigInt(n)}`,
        context: { page: { path: `/p/${n % 7}` } },
        // One client cut its text in the middle of an emoji: a lone surrogate, sent as \ud83d.
        ...(n === 5 ? { note: 'cut \ud83d' } : {}),
        // One sent flags as top-level fields of their own: so many fields seldom seen that DuckDB's
        // read_json took the whole record for one MAP column unless told not to (docs/output.md).
        ...(n === 7 ? Object.fromEntries(Array.from({ length: 60 }, (_, f) => [`flag_${f}`, f])) : {}),
      };
    });
    const answer = await fetch(`${url}/v1/streams/${stream}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(batch).replace(/"big:(\d+)"/g, '$1'),
    });
    expect(answer.status).toBe(202);
  }
}

beforeAll(async () => {
  stack = await LocalStack.start({ dataDir: dir, s3: { bucket: BUCKET } });
  const env = {
    FLUSH_INTERVAL: '2s',
    OUTPUT_FORMAT: `${STREAMS['ndjson.zst']}:ndjson.zst,${STREAMS.parquet}:parquet,${EVOLVING}:parquet,*:ndjson.gz`,
  };
  const ingest = await stack.addIngest(env);
  ingestUrl = ingest.url;
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

/** What DuckDB makes of each format's columns, and how a nested field is read. */
const READERS = {
  'ndjson.gz': { time: 'TIMESTAMP', context: 'STRUCT', path: 'context.page.path' },
  'ndjson.zst': { time: 'TIMESTAMP', context: 'STRUCT', path: 'context.page.path' },
  // Parquet's nested objects are their JSON text, its times UTC timestamps (docs/output.md).
  // TRY, as docs/output.md's query: a generation whose `context` was only ever text holds it as it
  // is (`none`), which `->>` refuses.
  parquet: { time: 'TIMESTAMP WITH TIME ZONE', context: 'VARCHAR', path: "TRY(context->>'$.page.path')" },
} as const;

/**
 * The partitions' types, named: DuckDB would guess `hour` VARCHAR as soon as one folder is
 * `hour=00` to `hour=09` (a leading zero), so a test run before 10:00 UTC got another type.
 */
const HIVE_TYPES = "hive_types = {'dt': DATE, 'hour': INTEGER}";

function objectFiles(stream: string, format: string): string {
  return `${join(dir, 's3', BUCKET)}/stream=${stream}/dt=*/hour=*/*.${format}._S3rver_object`;
}

describe.each(Object.entries(STREAMS))('objects written as %s', (format, stream) => {
  const reader = READERS[format as keyof typeof READERS];
  const source = () =>
    format === 'parquet'
      ? `read_parquet('${objectFiles(stream, format)}', hive_partitioning = true, ${HIVE_TYPES}, union_by_name = true)`
      : `read_json_auto('${objectFiles(stream, format)}', compression = '${format === 'ndjson.zst' ? 'zstd' : 'gzip'}', hive_partitioning = true, ${HIVE_TYPES}, map_inference_threshold = -1, sample_size = -1)`;

  it('are read by DuckDB with their partitions: the counts per event are what was sent', async () => {
    const rows = await query(
      `SELECT stream, event, count(*) AS events, count(DISTINCT messageId) AS ids FROM ${source()} GROUP BY ALL ORDER BY event`,
    );
    expect(rows).toEqual([...EVENTS].sort().map((event) => ({ stream, event, events: 1_000n, ids: 1_000n })));
  });

  it('hold a lone surrogate a client sent as U+FFFD, so DuckDB reads them at all', async () => {
    const rows = await query(`SELECT note FROM ${source()} WHERE messageId = '${stream}-5'`);
    expect(rows).toEqual([{ note: 'cut \ufffd' }]);
  });

  it('give typed columns: receivedAt a timestamp, numbers BIGINT, the partitions DATE and INTEGER', async () => {
    const columns = Object.fromEntries(
      (await query(`DESCRIBE SELECT * FROM ${source()}`)).map((row) => [row.column_name, row.column_type]),
    );
    expect(String(columns.context)).toMatch(new RegExp(`^${reader.context}`));
    expect(columns).toMatchObject({
      receivedAt: reader.time,
      amount: 'BIGINT',
      accountId: 'BIGINT',
      messageId: 'VARCHAR',
      dt: 'DATE',
      hour: 'INTEGER',
      stream: 'VARCHAR',
    });
    const [{ paths, total } = {}] = await query(
      `SELECT count(DISTINCT ${reader.path}) AS paths, sum(amount) AS total FROM ${source()}`,
    );
    expect(paths).toBe(7n);
    expect(total).toBe(BigInt(Array.from({ length: PER_STREAM }, (_, n) => n % 97).reduce((a, b) => a + b)));
  });

  it('keep integers past 2^53 digit for digit: every 64-bit id distinct, and the one of each event', async () => {
    const [{ ids, first, last, wrong } = {}] = await query(
      `SELECT count(DISTINCT accountId) AS ids, min(accountId) AS first, max(accountId) AS last, ` +
        `count(*) FILTER (accountId - ${FIRST_BIG_ID} <> CAST(split_part(messageId, '-', -1) AS BIGINT)) AS wrong FROM ${source()}`,
    );
    expect({ ids, first, last, wrong }).toEqual({
      ids: BigInt(PER_STREAM),
      first: FIRST_BIG_ID,
      last: FIRST_BIG_ID + BigInt(PER_STREAM - 1),
      wrong: 0n,
    });
  });
});

describe('Parquet objects across a schema change between generations', () => {
  async function sendGeneration(events: object[]): Promise<void> {
    const answer = await fetch(`${ingestUrl}/v1/streams/${EVOLVING}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    expect(answer.status).toBe(202);
    await waitUntilLanded(redis, [EVOLVING], { timeoutMs: 30_000 });
  }

  it('stay readable together with union_by_name: a field that changed type, a field that appeared', async () => {
    // Generation one: plan is a number, details an object; generation two: plan and details are
    // text, and coupon appears.
    await sendGeneration(
      Array.from({ length: 50 }, (_, n) => ({
        messageId: `one-${n}`,
        event: 'buy',
        plan: n,
        details: { size: n },
      })),
    );
    await sendGeneration(
      Array.from({ length: 30 }, (_, n) => ({
        messageId: `two-${n}`,
        event: 'buy',
        plan: 'pro',
        coupon: 'X',
        details: 'none',
      })),
    );
    const files = objectFiles(EVOLVING, 'parquet');
    const perFile = await query(
      `SELECT count(DISTINCT file_name) AS files, list(DISTINCT type ORDER BY type) AS types FROM parquet_schema('${files}') WHERE name = 'plan'`,
    );
    expect(perFile).toEqual([{ files: 2n, types: ['BYTE_ARRAY', 'INT64'] }]);

    const source = `read_parquet('${files}', hive_partitioning = true, ${HIVE_TYPES}, union_by_name = true)`;
    const columns = Object.fromEntries(
      (await query(`DESCRIBE SELECT * FROM ${source}`)).map((row) => [row.column_name, row.column_type]),
    );
    expect(columns).toMatchObject({ plan: 'VARCHAR', coupon: 'VARCHAR', details: 'VARCHAR' });
    // An object's JSON text in one generation, plain text in the other: one column (with the JSON
    // type for objects, DuckDB would have to cast 'none' to JSON, and refuse every file).
    const details = await query(
      `SELECT messageId, details FROM ${source} WHERE messageId IN ('one-7', 'two-0') ORDER BY messageId`,
    );
    expect(details).toEqual([
      { messageId: 'one-7', details: '{"size":7}' },
      { messageId: 'two-0', details: 'none' },
    ]);
    const rows = await query(
      `SELECT split_part(messageId, '-', 1) AS generation, count(*) AS events, count(coupon) AS coupons, min(plan) AS plan FROM ${source} GROUP BY ALL ORDER BY generation`,
    );
    expect(rows).toEqual([
      { generation: 'one', events: 50n, coupons: 0n, plan: '0' },
      { generation: 'two', events: 30n, coupons: 30n, plan: 'pro' },
    ]);
  });

  it('count the events written whole (_event) in the same queries: their messageId and receivedAt are columns', async () => {
    // One event's field differs from the others' only in case: that event cannot be columns.
    await sendGeneration(
      Array.from({ length: 20 }, (_, n) => ({
        messageId: `three-${n}`,
        event: 'buy',
        ...(n === 7 ? { Plan: 'x' } : { plan: 'y' }),
      })),
    );
    const source = `read_parquet('${objectFiles(EVOLVING, 'parquet')}', hive_partitioning = true, ${HIVE_TYPES}, union_by_name = true)`;
    const rows = await query(
      `SELECT split_part(messageId, '-', 1) AS generation, count(*) AS events, count(DISTINCT messageId) AS ids, count(receivedAt) AS timed, count(_event) AS whole FROM ${source} GROUP BY ALL ORDER BY generation`,
    );
    expect(rows).toEqual([
      { generation: 'one', events: 50n, ids: 50n, timed: 50n, whole: 0n },
      { generation: 'three', events: 20n, ids: 20n, timed: 20n, whole: 1n },
      { generation: 'two', events: 30n, ids: 30n, timed: 30n, whole: 0n },
    ]);
  });
});

describe('NDJSON objects whose events name fields in other cases', () => {
  const TOP = 'lake-case-top';
  const NESTED = 'lake-case-nested';
  const ndjson = (stream: string, options = '') =>
    `read_json_auto('${objectFiles(stream, 'ndjson.gz')}', compression = 'gzip', hive_partitioning = true, ${HIVE_TYPES}, map_inference_threshold = -1, sample_size = -1${options})`;

  beforeAll(async () => {
    const post = async (stream: string, events: object[]) => {
      const answer = await fetch(`${ingestUrl}/v1/streams/${stream}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(events),
      });
      expect(answer.status).toBe(202);
    };
    // A client's own MessageID and ReceivedAt, the same in every event (no messageId of its own).
    // Three without a messageId of their own (the ingest makes one), three with one after it.
    await post(TOP, [
      ...['a', 'b', 'c'].map((event) => ({ event, MessageID: 'dup', ReceivedAt: '2020-01-01T00:00:00Z' })),
      ...['d', 'e', 'f'].map((event) => ({ event, MessageID: 'dup', messageId: `own-${event}` })),
    ]);
    // One release of a client sent properties.Plan, the next properties.plan.
    await post(NESTED, [
      { messageId: 'n-1', event: 'buy', properties: { Plan: 'gold' } },
      { messageId: 'n-2', event: 'buy', properties: { plan: 'free' } },
    ]);
    await waitUntilLanded(redis, [TOP, NESTED], { timeoutMs: 30_000 });
  }, 60_000);

  it("count by Spool's messageId and receivedAt, not a client's MessageID or ReceivedAt (they come first in a line)", async () => {
    const [row] = await query(
      `SELECT count(*) AS events, count(DISTINCT messageId) AS ids, min(receivedAt) > TIMESTAMP '2026-01-01' AS server_time FROM ${ndjson(TOP)}`,
    );
    expect(row).toEqual({ events: 6n, ids: 6n, server_time: true });
  });

  it('read nested names that differ only in case with maximum_depth = 1, every field as JSON (the default read refuses them)', async () => {
    await expect(query(`SELECT count(*) FROM ${ndjson(NESTED)}`)).rejects.toThrow(/Duplicate name/);
    const rows = await query(
      `SELECT messageId->>'$' AS messageId, coalesce(properties->>'$.plan', properties->>'$.Plan') AS plan FROM ${ndjson(NESTED, ', maximum_depth = 1')} ORDER BY 1`,
    );
    expect(rows).toEqual([
      { messageId: 'n-1', plan: 'gold' },
      { messageId: 'n-2', plan: 'free' },
    ]);
  });
});
