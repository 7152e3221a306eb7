import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  appendToBuffer,
  defineSpoolCommands,
  loadConfig,
  REDIS_STRING_LIMIT,
  streamKeys,
} from '@spool/shared';
import {
  createTestRedis,
  createTestS3,
  flusherTestEnv,
  randomName,
  saveObject,
  testServices,
} from '@spool/testkit';
import { duckdbQuery as query } from '@spool/testkit/duckdb';
import { pino } from 'pino';
import { flushGeneration } from './flush-generation.js';
import { createFlusherMetrics } from './metrics.js';
import { eachParquetMessageId } from './parquet-duckdb.js';

/**
 * Parquet flushes against real Redis and S3, read back by DuckDB: each generation's inferred
 * types, the fallbacks that keep every event when a generation cannot be typed, and the same
 * exactly-once key and metadata as the NDJSON formats.
 */
const services = testServices();
const redis = createTestRedis();
defineSpoolCommands(redis);
const s3 = createTestS3();
const dir = mkdtempSync(join(tmpdir(), 'spool-parquet-test-'));
afterAll(async () => {
  await redis.quit();
  s3.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function append(stream: string, events: object[]): Promise<void> {
  const lines = events.map((event) => `${JSON.stringify(event)}\n`);
  const result = await appendToBuffer(redis, streamKeys(stream), {
    chunk: lines.join(''),
    eventCount: lines.length,
    maxBytes: REDIS_STRING_LIMIT,
    dedupeWindowMs: 0,
    clientIds: { ids: [], lines: [] },
  });
  if (result.refused) throw new Error('buffer refused the append');
}

/** Flushes generation `gen` as Parquet; returns the object's key, its file on disk and the log. */
async function flushParquet(stream: string, gen = 0) {
  const logLines: string[] = [];
  const config = loadConfig(
    flusherTestEnv({ S3_PREFIX: `${randomName('pq')}/`, OUTPUT_FORMAT: 'parquet' }),
    'flusher',
  );
  const logger = pino({ level: 'info' }, { write: (line: string) => logLines.push(line) });
  const metrics = createFlusherMetrics();
  const outcome = await flushGeneration({ config, redis, s3, logger, metrics }, stream, gen);
  if (outcome.status !== 'uploaded') throw new Error(`nothing uploaded: ${outcome.status}`);
  const file = join(dir, `${randomName('object')}.parquet`);
  await saveObject(s3, services.s3.bucket, outcome.key, file);
  return { key: outcome.key, file, log: logLines.join(''), metrics: await metrics.registry.metrics() };
}

async function columnTypes(file: string): Promise<Record<string, unknown>> {
  const rows = await query(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
  return Object.fromEntries(rows.map((row) => [row.column_name, row.column_type]));
}

/** This process's staged generations (flushGeneration runs here; other test files' do not count). */
const stagedDirs = () =>
  readdirSync(tmpdir()).filter((name) => name.startsWith(`spool-flush-${process.pid}-`));

describe('a Parquet flush', () => {
  it('types each top-level field from every line of the generation, nested values as JSON', async () => {
    const stream = randomName('pq-types');
    await append(stream, [
      {
        messageId: 'a',
        event: 'page',
        n: 1,
        ratio: 1,
        ok: true,
        tags: ['x'],
        props: { plan: 'pro' },
        mixed: 'one',
        // Names SQL must quote, and one past any identifier limit.
        'it\'s "quoted" ü.é': 'odd',
        ['x'.repeat(300)]: 'long',
      },
      {
        messageId: 'b',
        event: 'track',
        n: 2,
        ratio: 0.5,
        ok: false,
        tags: [],
        props: {},
        mixed: 2,
        timestamp: '2026-11-30T23:00:00+01:00',
      },
      {
        messageId: 'c',
        event: 'track',
        n: null,
        ratio: 3,
        ok: null,
        props: null,
        mixed: null,
        timestamp: '2026-11-30T22:00:00.5Z',
      },
    ]);
    const { file } = await flushParquet(stream);

    expect(await columnTypes(file)).toEqual({
      messageId: 'VARCHAR',
      event: 'VARCHAR',
      n: 'BIGINT',
      ratio: 'DOUBLE',
      ok: 'BOOLEAN',
      tags: 'VARCHAR',
      props: 'VARCHAR',
      mixed: 'VARCHAR',
      'it\'s "quoted" ü.é': 'VARCHAR',
      ['x'.repeat(300)]: 'VARCHAR',
      timestamp: 'TIMESTAMP WITH TIME ZONE',
    });
    const [odd] = await query(
      `SELECT "it's ""quoted"" ü.é" AS odd, ${'x'.repeat(300)} AS long FROM read_parquet('${file}') WHERE messageId = 'a'`,
    );
    expect(odd).toEqual({ odd: 'odd', long: 'long' });
    const rows = await query(
      `SELECT messageId, n, props->>'$.plan' AS plan, mixed, epoch_ms(timestamp) AS at FROM read_parquet('${file}') ORDER BY messageId`,
    );
    expect(rows).toEqual([
      { messageId: 'a', n: 1n, plan: 'pro', mixed: 'one', at: null },
      { messageId: 'b', n: 2n, plan: null, mixed: '2', at: BigInt(Date.parse('2026-11-30T22:00:00Z')) },
      {
        messageId: 'c',
        n: null,
        plan: null,
        mixed: null,
        at: BigInt(Date.parse('2026-11-30T22:00:00.500Z')),
      },
    ]);
  });

  it('writes every value of a nested field as JSON, a string among objects too, so a JSON path reads every row', async () => {
    const stream = randomName('pq-json');
    await append(stream, [
      { messageId: 'a', context: { page: { path: '/a' } } },
      // A client that sent text where objects are usual; and text that looks like an object.
      { messageId: 'b', context: 'none' },
      { messageId: 'c', context: '{"page":{"path":"/fake"}}' },
      { messageId: 'd', context: 12.5 },
      { messageId: 'e', context: null },
    ]);
    const { file, metrics } = await flushParquet(stream);

    expect(await columnTypes(file)).toMatchObject({ context: 'VARCHAR' });
    const rows = await query(
      `SELECT messageId, context, context->>'$.page.path' AS path FROM read_parquet('${file}') ORDER BY messageId`,
    );
    expect(rows).toEqual([
      { messageId: 'a', context: '{"page":{"path":"/a"}}', path: '/a' },
      { messageId: 'b', context: '"none"', path: null },
      { messageId: 'c', context: '"{\\"page\\":{\\"path\\":\\"/fake\\"}}"', path: null },
      { messageId: 'd', context: '12.5', path: null },
      { messageId: 'e', context: null, path: null },
    ]);
    expect(metrics).not.toContain(`spool_parquet_fallbacks_total{stream="${stream}"`);
  });

  it('keeps a time field text in a generation where one of its values is not a real time', async () => {
    const stream = randomName('pq-time');
    await append(stream, [
      { messageId: 'a', timestamp: '2026-11-30T22:00:00Z' },
      { messageId: 'b', timestamp: '2026-02-30T00:00:00Z' },
    ]);
    const { file } = await flushParquet(stream);

    expect(await columnTypes(file)).toMatchObject({ timestamp: 'VARCHAR' });
    const rows = await query(`SELECT timestamp FROM read_parquet('${file}') ORDER BY messageId`);
    expect(rows.map((row) => row.timestamp)).toEqual(['2026-11-30T22:00:00Z', '2026-02-30T00:00:00Z']);
  });

  it('keeps a time field of numbers text, so generations of it read together with union_by_name', async () => {
    const [times, millis] = [randomName('pq-times'), randomName('pq-millis')];
    await append(times, [{ messageId: 'a', timestamp: '2026-01-01T00:00:00Z' }]);
    // In another case too: union_by_name matches names whatever their case.
    await append(millis, [{ messageId: 'b', Timestamp: 1_767_225_600_000 }]);
    const files = [(await flushParquet(times)).file, (await flushParquet(millis)).file];

    expect(await columnTypes(files[1] as string)).toMatchObject({ Timestamp: 'VARCHAR' });
    const rows = await query(
      `SELECT messageId, timestamp::VARCHAR AS t FROM read_parquet(['${files.join("','")}'], union_by_name = true) ORDER BY messageId`,
    );
    expect(rows).toEqual([
      { messageId: 'a', t: expect.stringMatching(/^2026-01-01/) },
      { messageId: 'b', t: '1767225600000' },
    ]);
  });

  it("writes only the events whose fields cannot be columns whole, in _event, beside the others' typed columns and the server fields", async () => {
    const stream = randomName('pq-case');
    const events = [
      { messageId: 'a', userId: 'u1', receivedAt: '2026-12-01T10:00:00.000Z' },
      { messageId: 'b', userid: 'u2', '': 'empty name', receivedAt: '2026-12-01T10:00:01.250Z' },
      // Not written by the ingest: a receivedAt that is no time, and none at all.
      { messageId: 'c', MessageID: 'other', receivedAt: 'yesterday' },
      { userId: 'u4', plan: 3 },
    ];
    await append(stream, events);
    const { file, log, metrics } = await flushParquet(stream);

    // The fields of the events kept whole make no column (`userid`, `MessageID`, ``), and the
    // server's columns are read from them too, so queries over many generations count their rows.
    expect(await columnTypes(file)).toEqual({
      messageId: 'VARCHAR',
      userId: 'VARCHAR',
      receivedAt: 'TIMESTAMP WITH TIME ZONE',
      plan: 'BIGINT',
      _event: 'VARCHAR',
    });
    const rows = await query(
      `SELECT messageId, userId, plan, epoch_ms(receivedAt) AS at, _event FROM read_parquet('${file}') ORDER BY messageId NULLS LAST`,
    );
    expect(rows.map(({ messageId, userId, plan, at }) => [messageId, userId, plan, at])).toEqual([
      ['a', 'u1', null, BigInt(Date.parse('2026-12-01T10:00:00.000Z'))],
      ['b', null, null, BigInt(Date.parse('2026-12-01T10:00:01.250Z'))],
      ['c', null, null, null],
      [null, 'u4', 3n, null],
    ]);
    expect(rows.map((row) => (row._event === null ? null : JSON.parse(String(row._event))))).toEqual([
      null,
      events[1],
      events[2],
      null,
    ]);
    // docs/output.md's query over both kinds of row.
    const [user] = await query(
      `SELECT count(*) AS n FROM read_parquet('${file}') WHERE coalesce(userId, _event->>'$.userid') = 'u2'`,
    );
    expect(user?.n).toBe(1n);
    expect(log).toContain('two fields whose names differ only in case');
    expect(log).toContain('"events":2');
    expect(metrics).toContain(`spool_parquet_fallbacks_total{stream="${stream}",kind="whole-event"} 1`);
  });

  it('writes a generation whose every event has a field that cannot be a column as one _event column, every event whole', async () => {
    const stream = randomName('pq-all-whole');
    const events = [
      { messageId: 'a', '': 1, receivedAt: '2026-12-01T10:00:00.000Z' },
      { messageId: 'b', 'x\u0000y': 2 },
      // No field with a value: no column, so it is whole too.
      { n: null },
    ];
    await append(stream, events);
    const { file, log, metrics } = await flushParquet(stream);

    expect(await columnTypes(file)).toEqual({
      _event: 'VARCHAR',
      messageId: 'VARCHAR',
      receivedAt: 'TIMESTAMP WITH TIME ZONE',
    });
    const rows = await query(
      `SELECT _event, messageId, epoch_ms(receivedAt) AS at FROM read_parquet('${file}') ORDER BY messageId NULLS LAST`,
    );
    expect(rows.map((row) => JSON.parse(String(row._event)))).toEqual(events);
    expect(rows.map(({ messageId, at }) => [messageId, at])).toEqual([
      ['a', BigInt(Date.parse('2026-12-01T10:00:00.000Z'))],
      ['b', null],
      [null, null],
    ]);
    expect(log).toContain('a field with an empty name');
    expect(metrics).toContain(`spool_parquet_fallbacks_total{stream="${stream}",kind="whole-event"} 1`);
  });

  it('writes each line as text when DuckDB cannot parse it (a lone surrogate), the events unchanged', async () => {
    const stream = randomName('pq-surrogate');
    // A client that cut an emoji in half: JSON.stringify writes the lone half as \ud83d, which
    // JavaScript (and so the ingest) accepts and DuckDB's JSON parser refuses.
    // The server's fields beside it, as in every fallback, read from each line's top level (a
    // messageId elsewhere in the event is not one); where they cannot be read, NULL.
    const events = [
      { messageId: 'a', text: 'cut \ud83d', n: 1, receivedAt: '2026-12-01T10:00:00.000Z' },
      { nested: { messageId: 'not this one' }, messageId: 'b "quoted"', text: 'whole', receivedAt: 'soon' },
      { messageId: 'cut \udc00', receivedAt: '2026-12-01T10:00:02.000Z' },
      { text: 'neither' },
    ];
    await append(stream, events);
    const { file, log, metrics } = await flushParquet(stream);

    expect(await columnTypes(file)).toEqual({
      _event: 'VARCHAR',
      messageId: 'VARCHAR',
      receivedAt: 'TIMESTAMP WITH TIME ZONE',
    });
    const rows = await query(
      `SELECT _event, messageId, epoch_ms(receivedAt) AS at FROM read_parquet('${file}')`,
    );
    expect(rows.map((row) => row._event)).toEqual(events.map((event) => JSON.stringify(event)));
    expect(rows.map(({ messageId, at }) => [messageId, at])).toEqual([
      ['a', BigInt(Date.parse('2026-12-01T10:00:00.000Z'))],
      ['b "quoted"', null],
      [null, BigInt(Date.parse('2026-12-01T10:00:02.000Z'))],
      [null, null],
    ]);
    // The loadtest's read-back takes an id DuckDB could not read from the event's own JSON.
    const ids: Array<string | undefined> = [];
    expect(await eachParquetMessageId(file, (id) => ids.push(id))).toBe(4);
    expect(ids).toEqual(['a', 'b "quoted"', 'cut \udc00', undefined]);
    expect(metrics).toContain(`spool_parquet_fallbacks_total{stream="${stream}",kind="text-lines"} 1`);
    // The warnings name DuckDB's error kind, never the refused text.
    expect(log).toContain('DuckDB could not write the generation as read');
    expect(log).not.toContain('cut');
  });

  it('keeps lines that are not JSON at all whole, as text, their server fields NULL (a buffer the ingest did not write)', async () => {
    const stream = randomName('pq-not-json');
    // The first line has an empty name; the second is not JSON (a bad escape in a name), where
    // the flusher reads each line's server fields. DuckDB parses neither: each is text in _event.
    const lines = ['{"":1,"messageId":"a"}', '{"bad\\q":1,"messageId":"b"}'];
    const result = await appendToBuffer(redis, streamKeys(stream), {
      chunk: lines.map((line) => `${line}\n`).join(''),
      eventCount: lines.length,
      maxBytes: REDIS_STRING_LIMIT,
      dedupeWindowMs: 0,
      clientIds: { ids: [], lines: [] },
    });
    expect(result.refused).toBe(false);
    const { file, metrics } = await flushParquet(stream);

    const rows = await query(`SELECT _event, messageId FROM read_parquet('${file}')`);
    expect(rows.map(({ _event, messageId }) => [_event, messageId])).toEqual([
      [lines[0], 'a'],
      [lines[1], null],
    ]);
    expect(metrics).toContain(`spool_parquet_fallbacks_total{stream="${stream}",kind="whole-event"} 1`);
  });

  it('writes lines holding bytes that are no UTF-8 as text, those bytes as U+FFFD (a buffer the ingest did not write)', async () => {
    const stream = randomName('pq-not-utf8');
    const keys = streamKeys(stream);
    const bad = Buffer.from([0xff, 0xfe, 0xc3]);
    await redis.set(
      keys.buf,
      Buffer.concat([
        Buffer.from('{"messageId":"m0","x":"ok"}\n{"messageId":"m1","x":"'),
        bad,
        Buffer.from('"}\n{"messageId":"m2'),
        bad,
        Buffer.from('","x":"ok"}\n'),
      ]),
    );
    // Before: refused by DuckDB in every way of writing it, the generation never landed.
    const { file, metrics } = await flushParquet(stream);
    const rows = await query(`SELECT _event, messageId FROM read_parquet('${file}')`);
    expect(rows.map(({ _event, messageId }) => [_event, messageId])).toEqual([
      ['{"messageId":"m0","x":"ok"}', 'm0'],
      ['{"messageId":"m1","x":"\ufffd\ufffd\ufffd"}', 'm1'],
      ['{"messageId":"m2\ufffd\ufffd\ufffd","x":"ok"}', 'm2\ufffd\ufffd\ufffd'],
    ]);
    expect(metrics).toContain(`spool_parquet_fallbacks_total{stream="${stream}",kind="text-lines"} 1`);
  });

  it('writes a generation of large events, whose row group passes 96 MB, with its typed columns', async () => {
    const stream = randomName('pq-large');
    // 20,000 events of some 40 bytes, then 2,100 of 28 KB, each unlike the others: DuckDB's row
    // groups have 2,048 rows at least, so the large ones make groups of up to 57 MB, held whole by
    // the writer, though the generation's mean event is 2.7 KB.
    const small = Array.from({ length: 20_000 }, (_, i) => ({ messageId: `s${i}`, payload: 'small' }));
    const large = Array.from({ length: 2_100 }, (_, i) => ({
      messageId: `m${i}`,
      payload: randomBytes(21_000).toString('base64'),
    }));
    for (let from = 0; from < small.length; from += 5_000)
      await append(stream, small.slice(from, from + 5_000));
    for (let from = 0; from < large.length; from += 100) await append(stream, large.slice(from, from + 100));
    const { file, metrics } = await flushParquet(stream);

    expect(await columnTypes(file)).toEqual({ messageId: 'VARCHAR', payload: 'VARCHAR' });
    const [summary] = await query(
      `SELECT count(*) AS n, count(DISTINCT payload) AS payloads, sum(length(payload)) AS bytes FROM read_parquet('${file}')`,
    );
    expect(summary).toEqual({ n: 22_100n, payloads: 2_101n, bytes: 20_000n * 5n + 2_100n * 28_000n });
    expect(metrics).not.toContain(`spool_parquet_fallbacks_total{stream="${stream}"`);
  });

  it('writes a generation of 80 text fields to a few thousand events with its typed columns (each text column held a 1 MB dictionary page: it ran out of memory)', async () => {
    const stream = randomName('pq-text');
    const events = Array.from({ length: 3_000 }, (_, i) =>
      Object.fromEntries([
        ['messageId', `m${i}`],
        ...Array.from({ length: 80 }, (_, field) => [`prop_${field}`, `v${(i * 7 + field) % 500}`]),
      ]),
    );
    for (let from = 0; from < events.length; from += 500)
      await append(stream, events.slice(from, from + 500));
    const { file, metrics } = await flushParquet(stream);

    const types = await columnTypes(file);
    expect(Object.keys(types)).toHaveLength(81);
    expect(types.prop_79).toBe('VARCHAR');
    const [summary] = await query(
      `SELECT count(*) AS n, count(DISTINCT prop_0) AS values0 FROM read_parquet('${file}')`,
    );
    expect(summary).toEqual({ n: 3_000n, values0: 500n });
    expect(metrics).not.toContain(`spool_parquet_fallbacks_total{stream="${stream}"`);
  });

  it('writes a generation of hundreds of typed columns that DuckDB cannot fit as text lines, every event kept', async () => {
    const stream = randomName('pq-wide');
    // Past one row group of 2,048 rows, of 900 text columns, each event holding two of them: 100
    // KB of NDJSON, where DuckDB's memory is sized by the bytes (400 full columns, 14 MB, now fit).
    const events = Array.from({ length: 2_100 }, (_, i) =>
      Object.fromEntries([
        ['messageId', `m${i}`],
        ...[0, 1].map((k) => [`f${(i * 2 + k) % 900}`, `v${i}-${k}`]),
      ]),
    );
    for (let from = 0; from < events.length; from += 500)
      await append(stream, events.slice(from, from + 500));
    const { file, log, metrics } = await flushParquet(stream);

    expect(await columnTypes(file)).toEqual({
      _event: 'VARCHAR',
      messageId: 'VARCHAR',
      receivedAt: 'TIMESTAMP WITH TIME ZONE',
    });
    const rows = await query(`SELECT _event, messageId FROM read_parquet('${file}')`);
    // Each line as stored, in order (compared as text: 840,000 fields), its messageId beside it.
    expect(rows.map((row) => row._event)).toEqual(events.map((event) => JSON.stringify(event)));
    expect(rows.map((row) => row.messageId)).toEqual(events.map((event) => event.messageId));
    expect(log).toContain('Out of Memory Error');
    expect(metrics).toContain(`spool_parquet_fallbacks_total{stream="${stream}",kind="text-lines"} 1`);
  });

  it('writes an event with a NUL in a field name whole, the others with their columns', async () => {
    const stream = randomName('pq-nul');
    const events = [
      { messageId: 'a', 'x\u0000y': 1 },
      { messageId: 'b', plain: 2 },
    ];
    await append(stream, events);
    const { file } = await flushParquet(stream);

    const rows = await query(
      `SELECT messageId, plain, _event FROM read_parquet('${file}') ORDER BY messageId`,
    );
    expect(rows.map(({ messageId, plain }) => [messageId, plain])).toEqual([
      ['a', null],
      ['b', 2n],
    ]);
    expect(JSON.parse(String(rows[0]?._event))).toEqual(events[0]);
    expect(rows[1]?._event).toBeNull();
  });

  it("writes an event with a client's own _event field whole, so that _event is only ever Spool's column", async () => {
    const stream = randomName('pq-own-event');
    const events = [
      { messageId: 'a', _Event: 'a client field' },
      { messageId: 'b', plain: 2 },
    ];
    await append(stream, events);
    const { file, log, metrics } = await flushParquet(stream);

    expect(Object.keys(await columnTypes(file)).sort()).toEqual([
      '_event',
      'messageId',
      'plain',
      'receivedAt',
    ]);
    const rows = await query(`SELECT messageId, _event FROM read_parquet('${file}') ORDER BY messageId`);
    expect(JSON.parse(String(rows[0]?._event))).toEqual(events[0]);
    expect(rows[1]?._event).toBeNull();
    expect(log).toContain("a field named _Event, the name of the whole event's column");
    expect(metrics).toContain(`spool_parquet_fallbacks_total{stream="${stream}",kind="whole-event"} 1`);
  });

  it('has the deterministic key with .parquet, the metadata of the raw lines, and leaves no staged file', async () => {
    const stream = randomName('pq-key');
    const events = Array.from({ length: 500 }, (_, i) => ({ messageId: `m${i}`, event: 'page', i }));
    await append(stream, events);
    const { key } = await flushParquet(stream);

    expect(key).toMatch(
      new RegExp(
        `^.+/stream=${stream}/dt=\\d{4}-\\d{2}-\\d{2}/hour=\\d{2}/${stream}-\\d{8}T\\d{9}Z-0\\.parquet$`,
      ),
    );
    const head = await s3.send(new HeadObjectCommand({ Bucket: services.s3.bucket, Key: key }));
    expect(head.ContentType).toBe('application/vnd.apache.parquet');
    const raw = events.map((event) => `${JSON.stringify(event)}\n`).join('');
    expect(head.Metadata).toMatchObject({
      'spool-events': '500',
      'spool-raw-bytes': String(Buffer.byteLength(raw)),
      'spool-sha256': createHash('sha256').update(raw).digest('hex'),
    });
    expect(stagedDirs()).toEqual([]);
  });
});
