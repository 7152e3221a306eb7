import { createHash } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { duckdbQuery } from '@spool/testkit/duckdb';
import fc from 'fast-check';
import { pino } from 'pino';
import { type FallbackKind, ParquetStage } from './parquet-stage.js';

/** Stages `text` in chunks cut at `cuts` (as the sealed reader's ranges fall), then writes Parquet. */
async function parquetOf(text: Buffer, cuts: number[], fallbacks: FallbackKind[] = []) {
  const stage = await ParquetStage.open({
    logger: pino({ level: 'silent' }),
    fallback: (kind) => fallbacks.push(kind),
  });
  const bounds = [0, ...[...new Set(cuts)].sort((a, b) => a - b), text.length];
  async function* chunks() {
    for (let i = 1; i < bounds.length; i++) {
      // A copy the stage may not keep: released (and overwritten, as a pool's buffer is) after.
      const data = Buffer.from(text.subarray(bounds[i - 1], bounds[i]));
      yield { data, release: () => data.fill(0x20) };
    }
  }
  await stage.addAll(chunks());
  const parts: Buffer[] = [];
  for await (const part of stage.encode()) parts.push(part);
  const file = join(tmpdir(), `stage-test-${process.pid}-${Math.random().toString(36).slice(2)}.parquet`);
  await writeFile(file, Buffer.concat(parts));
  return file;
}

/** Runs `sql` on the Parquet `file`, then removes it. */
async function read(sql: string, file: string) {
  try {
    return await duckdbQuery(sql);
  } finally {
    await rm(file, { force: true });
  }
}

describe('ParquetStage', () => {
  it('writes each event once, those whose fields cannot be columns whole in _event, wherever the chunks cut the lines', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (whole, cutSeeds) => {
          const events = whole.map((isWhole, i) =>
            isWhole ? { messageId: `m${i}`, '': i } : { messageId: `m${i}`, n: i, text: 'x'.repeat(i % 7) },
          );
          const text = Buffer.from(events.map((event) => `${JSON.stringify(event)}\n`).join(''));
          const cuts = cutSeeds.map((seed) => seed % text.length);
          const fallbacks: FallbackKind[] = [];
          const file = await parquetOf(text, cuts, fallbacks);
          // A generation with no event whole has no _event column; one with every event whole, no n.
          const n = whole.every(Boolean) ? 'NULL::BIGINT AS n' : 'n';
          const event = whole.some(Boolean) ? '_event' : 'NULL::VARCHAR AS _event';
          const rows = await read(
            `SELECT messageId, ${n}, ${event} FROM read_parquet('${file}') ORDER BY messageId`,
            file,
          );
          const expected = events
            .map((event, i) => ({
              messageId: event.messageId,
              n: whole[i] ? null : BigInt(i),
              _event: whole[i] ? JSON.stringify(event) : null,
            }))
            .sort((a, b) => (a.messageId < b.messageId ? -1 : 1));
          expect(rows).toEqual(expected);
          expect(fallbacks).toEqual(whole.some(Boolean) ? ['whole-event'] : []);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("writes a whole event's receivedAt as it was sent where the typed receivedAt is text", async () => {
    const events = [
      { messageId: 'a', receivedAt: 'not a time' },
      { messageId: 'b', '': 1, receivedAt: '2026-01-01T00:00:01Z' },
    ];
    const text = Buffer.from(events.map((event) => `${JSON.stringify(event)}\n`).join(''));
    const file = await parquetOf(text, []);
    const rows = await read(
      `SELECT messageId, receivedAt FROM read_parquet('${file}') ORDER BY messageId`,
      file,
    );
    expect(rows).toEqual(events.map(({ messageId, receivedAt }) => ({ messageId, receivedAt })));
  });

  it("keeps a whole event's text byte for byte (numbers of any precision, escapes), and a blank or empty line as a row", async () => {
    const lines = [
      '{"messageId":"a","n":1}',
      '{"messageId":"b","Messageid":1.2345678901234567890123,"z":-0,"e":1.0e2,"s":"\\u00e9\\/","cut":"\\ud83d"}',
      '  ',
      '',
      '{"messageId":"c","n":2}',
    ];
    const fallbacks: FallbackKind[] = [];
    const file = await parquetOf(Buffer.from(`${lines.join('\n')}\n`), [30], fallbacks);
    const rows = await read(`SELECT messageId, n, _event FROM read_parquet('${file}')`, file);
    expect(rows).toEqual([
      { messageId: 'a', n: 1n, _event: null },
      { messageId: 'b', n: null, _event: lines[1] },
      { messageId: null, n: null, _event: '  ' },
      { messageId: null, n: null, _event: '' },
      { messageId: 'c', n: 2n, _event: null },
    ]);
    expect(fallbacks).toEqual(['whole-event']);
  });

  it("writes a 32 MiB generation (staged in several files) with large events kept whole among the others with its typed columns, in order (they were read in one block, past DuckDB's memory)", async () => {
    const lines: string[] = [];
    let bytes = 0;
    for (let i = 0; bytes < 32 * 1024 * 1024; i++) {
      const event =
        i % 20 === 0
          ? { messageId: `m${i}`, event: 'x', Event: 'odd client', blob: 'b'.repeat(30_000) }
          : { messageId: `m${i}`, event: 'x', n: i, text: 't'.repeat(200) };
      const line = JSON.stringify(event);
      lines.push(line);
      bytes += line.length + 1;
    }
    const text = Buffer.from(`${lines.join('\n')}\n`);
    const cuts = Array.from(
      { length: Math.floor(text.length / (4 * 1024 * 1024)) },
      (_, i) => (i + 1) * 4 * 1024 * 1024,
    );
    const fallbacks: FallbackKind[] = [];
    const file = await parquetOf(text, cuts, fallbacks);
    const [counts] = await read(
      `SELECT count(*) AS rows, count(DISTINCT messageId) AS ids, count(_event) AS whole, count(n) AS typed, ` +
        `count(*) FILTER (WHERE messageId <> 'm' || file_row_number) AS misplaced ` +
        `FROM read_parquet('${file}', file_row_number = true)`,
      file,
    );
    const whole = Math.ceil(lines.length / 20);
    expect(counts).toEqual({
      rows: BigInt(lines.length),
      ids: BigInt(lines.length),
      whole: BigInt(whole),
      typed: BigInt(lines.length - whole),
      misplaced: 0n,
    });
    expect(fallbacks).toEqual(['whole-event']);
  });

  it('writes a generation of 400 text columns in 2,100 events (14 MB) with its columns (read as one staged file, it ran out of memory)', async () => {
    const events = Array.from({ length: 2_100 }, (_, i) =>
      Object.fromEntries([
        ['messageId', `m${i}`],
        ...Array.from({ length: 400 }, (_, field) => [`f${field}`, `v${i}-${field}`]),
      ]),
    );
    const text = Buffer.from(events.map((event) => `${JSON.stringify(event)}\n`).join(''));
    const fallbacks: FallbackKind[] = [];
    const file = await parquetOf(text, [4 * 1024 * 1024, 8 * 1024 * 1024], fallbacks);
    const [counts] = await read(
      `SELECT count(*) AS rows, count(f399) AS last, max(f0) FILTER (WHERE messageId = 'm2099') AS first ` +
        `FROM read_parquet('${file}')`,
      file,
    );
    expect(counts).toEqual({ rows: 2100n, last: 2100n, first: 'v2099-0' });
    expect(fallbacks).toEqual([]);
  });

  it.each([
    // 200 sparse integer fields, 5 an event: groups of 32,000 rows ran DuckDB out of memory.
    [
      '200 sparse fields',
      (i: number) => Object.fromEntries(Array.from({ length: 5 }, (_, k) => [`f${(i * 5 + k) % 200}`, i])),
    ],
    // An array of 400 integers in each event: 2,048 rows ran out of 96 MB.
    [
      'an array of 400 integers',
      (i: number) => ({ values: Array.from({ length: 400 }, (_, k) => (i + k) % 1000) }),
    ],
  ])(
    "writes a 33 MiB generation of events with %s with its columns (each lost them to text lines, a review's runs)",
    async (_, fields) => {
      const lines: string[] = [];
      for (let bytes = 0, i = 0; bytes < 33 * 1024 * 1024; i++) {
        const line = `${JSON.stringify({ messageId: `m${i}`, receivedAt: '2026-12-05T23:00:00.000Z', ...fields(i) })}\n`;
        lines.push(line);
        bytes += line.length;
      }
      const fallbacks: FallbackKind[] = [];
      const file = await parquetOf(Buffer.from(lines.join('')), [], fallbacks);
      const [counts] = await read(`SELECT count(*) AS rows FROM read_parquet('${file}')`, file);
      expect(counts).toEqual({ rows: BigInt(lines.length) });
      expect(fallbacks).toEqual([]);
    },
  );

  it('writes a generation of events kept whole and typed ones that DuckDB cannot parse as text lines, every event once', async () => {
    const events = [
      { messageId: 'a', text: 'cut \ud83d' },
      { messageId: 'b', '': 1 },
      { messageId: 'c', n: 1 },
    ];
    const text = Buffer.from(events.map((event) => `${JSON.stringify(event)}\n`).join(''));
    const fallbacks: FallbackKind[] = [];
    const file = await parquetOf(text, [5, 40], fallbacks);
    const rows = await read(`SELECT messageId, _event FROM read_parquet('${file}') ORDER BY messageId`, file);
    expect(rows).toEqual(
      events.map((event) => ({ messageId: event.messageId, _event: JSON.stringify(event) })),
    );
    expect(fallbacks).toEqual(['text-lines']);
  });

  it("writes lines holding the text lines' own delimiter bytes (0x01, 0x02) or a CR (a buffer written by hand) as they are", async () => {
    const lines = [
      '{"messageId":"a","n":1}',
      'not json \x01 two \x01\x01 fields',
      '\x02quoted\x02 \x01',
      '{"messageId":"d"}\x01',
      '{"messageId":"e\x01\x02"}',
      'a\rb',
      '\r',
      '{"messageId":"h",\r"n":1}',
      `${'\x02'.repeat(2 * 1024 * 1024)}`,
      '', // an empty line: an empty _event, not NULL (a typed row's)
    ];
    const text = Buffer.from(lines.map((line) => `${line}\n`).join(''));
    const fallbacks: FallbackKind[] = [];
    const file = await parquetOf(text, [30], fallbacks);
    const rows = await read(`SELECT messageId, _event FROM read_parquet('${file}')`, file);
    expect(rows).toEqual([
      { messageId: 'a', _event: lines[0] },
      { messageId: null, _event: lines[1] },
      { messageId: null, _event: lines[2] },
      { messageId: 'd', _event: lines[3] },
      // Its id is no JSON string (a raw control byte): NULL, as for any line the ingest did not write.
      { messageId: null, _event: lines[4] },
      // A CR, which DuckDB takes for a line's end outside quotes: the ingest never stores one raw
      // in a value, but JSON allows it between tokens.
      { messageId: null, _event: lines[5] },
      { messageId: null, _event: lines[6] },
      { messageId: 'h', _event: lines[7] },
      { messageId: null, _event: lines[8] },
      { messageId: null, _event: '' },
    ]);
    expect(fallbacks).toEqual(['text-lines']);
  });

  it('writes a text line of 6 MiB (a line DuckDB refused as JSON, in a buffer written by hand)', async () => {
    const long = `{"messageId":"b","cut":"\\ud83d","s":"${'x'.repeat(6 * 1024 * 1024)}"}`;
    const text = Buffer.from(`{"messageId":"a"}\n${long}\n`);
    const fallbacks: FallbackKind[] = [];
    const file = await parquetOf(text, [], fallbacks);
    const rows = await read(`SELECT messageId, md5(_event) AS md5 FROM read_parquet('${file}')`, file);
    const md5 = (line: string) => createHash('md5').update(line).digest('hex');
    expect(rows).toEqual([
      { messageId: 'a', md5: md5('{"messageId":"a"}') },
      { messageId: 'b', md5: md5(long) },
    ]);
    expect(fallbacks).toEqual(['text-lines']);
  });
});
