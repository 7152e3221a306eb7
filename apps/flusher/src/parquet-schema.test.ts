import { describe, expect, it } from '@jest/globals';
import { parseIsoTime } from '@spool/shared';
import fc from 'fast-check';
import { isIsoTime } from './iso-time.js';
import { MAX_COLUMNS, SchemaBuilder, schemaAttempts } from './parquet-schema.js';
import {
  LargestRun,
  MAX_ROW_GROUP_ROWS,
  MAX_ROW_GROUP_VALUES,
  MIN_ROW_GROUP_ROWS,
  rowGroupBytes,
  rowGroupRows,
} from './parquet-stage.js';
import { MAX_KEPT_FIELD_NAMES } from './top-level-fields.js';

/** The columns an event kept whole adds, where the others have none of them. */
const WHOLE_EVENT_COLUMNS = [
  { name: 'messageId', type: 'VARCHAR' },
  { name: 'receivedAt', type: 'TIMESTAMPTZ' },
  { name: '_event', type: 'VARCHAR' },
];

function schemaOf(...events: object[]) {
  const builder = new SchemaBuilder();
  for (const event of events) builder.addLine(Buffer.from(JSON.stringify(event)));
  return builder.result();
}

describe('isIsoTime', () => {
  it.each([
    '2026-11-30T22:00:00Z',
    '2026-11-30T22:00:00.123Z',
    '2026-11-30T22:00:00.123456789Z',
    '2026-11-30 22:00:00',
    '2026-11-30T22:00:00+01:00',
    '2026-11-30T22:00:00-0530',
    '2024-02-29T00:00:00Z',
  ])('takes %s', (text) => expect(isIsoTime(text)).toBe(true));

  it.each([
    '2026-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-11-30T24:00:00Z',
    '2026-11-30T23:60:00Z',
    '2026-11-30',
    '1764540000000',
    'yesterday',
    '2026-11-30T22:00:00Zjunk',
    '2026-11-30T22:00:00+24:00',
    '2026-11-30T22:00:00+23:99',
    '2026-11-30T22:00:00+99',
  ])('refuses %s', (text) => expect(isIsoTime(text)).toBe(false));

  it("is the grammar of the ingest's client times (parseIsoTime): one rule, read in two places", () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const nearIso = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
        two(13),
        two(32),
        fc.constantFrom('T', ' ', 'x'),
        two(25),
        two(61),
        two(61),
        fc.oneof(
          fc.constant(''),
          fc.integer({ min: 0, max: 11 }).map((n) => `.${'7'.repeat(n)}`),
        ),
        fc.oneof(
          fc.constantFrom('', 'Z', 'z', 'Zjunk', '+1'),
          fc
            .tuple(
              fc.constantFrom('+', '-'),
              two(25),
              fc.constantFrom('', ':'),
              fc.oneof(fc.constant(''), two(61)),
            )
            .map(
              ([sign, hours, colon, minutes]) => `${sign}${hours}${minutes === '' ? '' : colon + minutes}`,
            ),
        ),
      )
      .map(
        ([y, mo, d, sep, h, mi, se, fraction, zone]) =>
          `${y}-${mo}-${d}${sep}${h}:${mi}:${se}${fraction}${zone}`,
      );
    fc.assert(
      fc.property(nearIso, (text) => {
        expect({ text, time: isIsoTime(text) }).toEqual({ text, time: !Number.isNaN(parseIsoTime(text)) });
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('SchemaBuilder', () => {
  it('gives each field the narrowest type every one of its values fits, in order of first appearance', () => {
    expect(
      schemaOf(
        { b: true, i: 1, d: 1, s: 's', o: {}, a: [], n: null, m: 1 },
        { b: false, i: -2, d: 1.5, s: 't', o: 1, a: null, n: null, m: 'x', late: 1 },
      ),
    ).toEqual({
      kind: 'columns',
      columns: [
        { name: 'b', type: 'BOOLEAN' },
        { name: 'i', type: 'BIGINT' },
        { name: 'd', type: 'DOUBLE' },
        { name: 's', type: 'VARCHAR' },
        { name: 'o', type: 'JSON' },
        { name: 'a', type: 'JSON' },
        { name: 'm', type: 'VARCHAR' },
        { name: 'late', type: 'BIGINT' },
      ],
    });
  });

  it('types the time fields TIMESTAMPTZ only when every value is a time, other fields never', () => {
    const at = '2026-11-30T22:00:00Z';
    expect(schemaOf({ receivedAt: at, timestamp: at, sentAt: 'soon', createdAt: at })).toEqual({
      kind: 'columns',
      columns: [
        { name: 'receivedAt', type: 'TIMESTAMPTZ' },
        { name: 'timestamp', type: 'TIMESTAMPTZ' },
        { name: 'sentAt', type: 'VARCHAR' },
        { name: 'createdAt', type: 'VARCHAR' },
      ],
    });
    expect(schemaOf({ timestamp: at }, { timestamp: 5 })).toMatchObject({
      columns: [{ name: 'timestamp', type: 'VARCHAR' }],
    });
    // Never a number or a boolean either (epoch milliseconds, say): DuckDB's union_by_name cannot
    // read a BIGINT generation with a TIMESTAMPTZ one, and text reads with either.
    for (const value of [1_767_225_600_000, 1.5, true]) {
      expect(schemaOf({ timestamp: value }, { timestamp: null, n: 1 })).toMatchObject({
        columns: [
          { name: 'timestamp', type: 'VARCHAR' },
          { name: 'n', type: 'BIGINT' },
        ],
      });
      // In any case: union_by_name reads `Timestamp` and `timestamp` as one column.
      expect(schemaOf({ Timestamp: value })).toMatchObject({
        columns: [{ name: 'Timestamp', type: 'VARCHAR' }],
      });
    }
    expect(schemaOf({ SentAT: at })).toMatchObject({
      columns: [{ name: 'SentAT', type: 'TIMESTAMPTZ' }],
    });
  });

  it('makes integers past 64 bits DOUBLE', () => {
    expect(schemaOf({ big: 2 ** 63 }, { big: 1 })).toMatchObject({
      columns: [{ name: 'big', type: 'DOUBLE' }],
    });
  });

  it.each([
    [
      'a name that differs only in case from a column',
      [{ userId: 1 }, { userid: 2 }],
      'two fields whose names differ only in case',
    ],
    [
      'two names in one event that differ only in case',
      [{ userId: 1 }, { a: 2, A: 3 }],
      'two fields whose names differ only in case',
    ],
    ['an empty name', [{ userId: 1 }, { '': 1 }], 'a field with an empty name'],
    ['a NUL in a name', [{ userId: 1 }, { 'a\u0000b': 1 }], 'a field name with a NUL or a lone surrogate'],
    [
      'a lone surrogate in a name',
      [{ userId: 1 }, { 'cut \ud83d': 1 }],
      'a field name with a NUL or a lone surrogate',
    ],
    [
      "the whole event's column",
      [{ userId: 1 }, { _Event: 1 }],
      "a field named _Event, the name of the whole event's column",
    ],
  ])('keeps an event whole for %s, and its fields make no column', (_name, events, reason) => {
    const builder = new SchemaBuilder();
    const usable = events.map((event) => builder.addLine(Buffer.from(JSON.stringify(event))));
    expect(usable).toEqual([true, false]);
    expect(builder.result()).toEqual({
      kind: 'columns',
      // And the columns of the whole events' staged lines: the server's fields and their text.
      columns: [{ name: 'userId', type: 'BIGINT' }, ...WHOLE_EVENT_COLUMNS],
      wholeEvents: { count: 1, reason },
    });
  });

  it("neither adds nor widens a column from an event kept whole, and keeps the first one's reason", () => {
    const builder = new SchemaBuilder();
    for (const event of [{ n: 1 }, { n: 'text', fresh: true, N: 2 }, { '': 0 }, { n: 3 }]) {
      builder.addLine(Buffer.from(JSON.stringify(event)));
    }
    expect(builder.result()).toEqual({
      kind: 'columns',
      columns: [{ name: 'n', type: 'BIGINT' }, ...WHOLE_EVENT_COLUMNS],
      wholeEvents: { count: 2, reason: 'two fields whose names differ only in case' },
    });
  });

  it('lets a name that is only ever null take no casing and no column: it never becomes one', () => {
    const builder = new SchemaBuilder();
    const events = [
      { Event: null, messageId: 'a' },
      { event: 'track', messageId: 'b' },
      { Event: 'odd', messageId: 'c' },
    ];
    expect(events.map((event) => builder.addLine(Buffer.from(JSON.stringify(event))))).toEqual([
      true,
      true,
      false,
    ]);
    expect(builder.result()).toEqual({
      kind: 'columns',
      columns: [
        { name: 'messageId', type: 'VARCHAR' },
        { name: 'event', type: 'VARCHAR' },
        { name: 'receivedAt', type: 'TIMESTAMPTZ' },
        { name: '_event', type: 'VARCHAR' },
      ],
      wholeEvents: { count: 1, reason: 'two fields whose names differ only in case' },
    });
    // Nor do null-only names count against the columns' limit.
    const nulls = new SchemaBuilder();
    const manyNulls = Object.fromEntries(Array.from({ length: MAX_COLUMNS }, (_, i) => [`f${i}`, null]));
    expect(nulls.addLine(Buffer.from(JSON.stringify({ ...manyNulls, messageId: 'a' })))).toBe(true);
    expect(nulls.addLine(Buffer.from(JSON.stringify({ event: 'track', userId: 'u' })))).toBe(true);
  });

  it('makes a column of a null-only name past the ones it remembers as of one it remembers, once it has a value', () => {
    const builder = new SchemaBuilder();
    const line = (event: object) => builder.addLine(Buffer.from(JSON.stringify(event)));
    for (let i = 0; i < MAX_KEPT_FIELD_NAMES + 100; i++)
      expect(line({ [`user-${i}`]: null, n: i })).toBe(true);
    expect(line({ [`user-${MAX_KEPT_FIELD_NAMES + 50}`]: 'now a value', n: 0 })).toBe(true);
    expect(line({ [`USER-${MAX_KEPT_FIELD_NAMES + 50}`]: 'its case taken', n: 0 })).toBe(false);
    expect(builder.result()).toMatchObject({
      columns: [
        { name: 'n', type: 'BIGINT' },
        { name: `user-${MAX_KEPT_FIELD_NAMES + 50}`, type: 'VARCHAR' },
        ...WHOLE_EVENT_COLUMNS,
      ],
      wholeEvents: { count: 1, reason: 'two fields whose names differ only in case' },
    });
  });

  it("keeps whole an event with another case of the server's messageId or receivedAt", () => {
    for (const name of ['MessageID', 'receivedat']) {
      const builder = new SchemaBuilder();
      expect(builder.addLine(Buffer.from(JSON.stringify({ messageId: 'a', n: 1 })))).toBe(true);
      expect(builder.addLine(Buffer.from(JSON.stringify({ [name]: 'b', n: 2 })))).toBe(false);
      expect(builder.result()).toMatchObject({
        wholeEvents: { count: 1, reason: expect.stringContaining(`a field named ${name}`) },
      });
    }
  });

  it('keeps whole an event that would add a column past the limit, not the ones before it', () => {
    // The limit docs/output.md gives.
    expect(MAX_COLUMNS).toBe(1000);
    const many = (from: number, count: number) =>
      Object.fromEntries(Array.from({ length: count }, (_, i) => [`f${from + i}`, i]));
    const builder = new SchemaBuilder();
    expect(builder.addLine(Buffer.from(JSON.stringify(many(0, MAX_COLUMNS))))).toBe(true);
    expect(builder.addLine(Buffer.from(JSON.stringify(many(0, 10))))).toBe(true);
    expect(builder.addLine(Buffer.from(JSON.stringify(many(MAX_COLUMNS, 1))))).toBe(false);
    const schema = builder.result();
    expect(schema.kind === 'columns' && schema.columns.length).toBe(MAX_COLUMNS + WHOLE_EVENT_COLUMNS.length);
    expect(schema).toMatchObject({ wholeEvents: { count: 1, reason: `more than ${MAX_COLUMNS} fields` } });
  });

  it("keeps every event whole when none can be columns: only the whole events' columns are left", () => {
    expect(schemaOf({ '': 1 }, { A: 1, a: 2 })).toEqual({
      kind: 'columns',
      columns: WHOLE_EVENT_COLUMNS,
      wholeEvents: { count: 2, reason: 'a field with an empty name' },
    });
    expect(
      schemaOf(Object.fromEntries(Array.from({ length: MAX_COLUMNS + 1 }, (_, i) => [`f${i}`, i]))),
    ).toEqual({
      kind: 'columns',
      columns: WHOLE_EVENT_COLUMNS,
      wholeEvents: { count: 1, reason: `more than ${MAX_COLUMNS} fields` },
    });
    // A generation of no events at all is the one _event column (it has no rows).
    expect(new SchemaBuilder().result()).toEqual({ kind: 'whole-event', reason: 'no event' });
  });

  it('tries typed columns, then the same columns as text, then each line as text', () => {
    const typed = schemaOf({ a: 1, b: 's', c: {} });
    expect(schemaAttempts(typed)).toEqual([
      typed,
      {
        kind: 'columns',
        columns: [
          { name: 'a', type: 'VARCHAR' },
          { name: 'b', type: 'VARCHAR' },
          // JSON reads any value already.
          { name: 'c', type: 'JSON' },
        ],
      },
      { kind: 'lines' },
    ]);
    const mixed = schemaOf({ a: 1 }, { A: 2 });
    expect(schemaAttempts(mixed)).toEqual([
      mixed,
      {
        ...mixed,
        columns: [
          { name: 'a', type: 'VARCHAR' },
          ...WHOLE_EVENT_COLUMNS.map(({ name }) => ({ name, type: 'VARCHAR' })),
        ],
      },
      { kind: 'lines' },
    ]);
    const none = new SchemaBuilder().result();
    expect(schemaAttempts(none)).toEqual([none, { kind: 'lines' }]);
  });

  it('gives no column to a field null in every line, and keeps whole an event with no value (a blank line too)', () => {
    expect(schemaOf({ a: null, b: 1 }, { b: 2 })).toEqual({
      kind: 'columns',
      columns: [{ name: 'b', type: 'BIGINT' }],
    });
    const builder = new SchemaBuilder();
    const usable = ['{"b":1}', '{"a":null}', '{}', '  '].map((line) => builder.addLine(Buffer.from(line)));
    expect(usable).toEqual([true, false, false, false]);
    expect(builder.result()).toEqual({
      kind: 'columns',
      columns: [{ name: 'b', type: 'BIGINT' }, ...WHOLE_EVENT_COLUMNS],
      wholeEvents: { count: 3, reason: 'no field with a value' },
    });
  });
});

describe('rowGroupRows', () => {
  it('aims at 4 MiB of NDJSON per row group, within bounds', () => {
    expect(rowGroupRows(256 * 2 ** 20, (256 * 2 ** 20) / 512)).toBe(8192);
    expect(rowGroupRows(2 ** 30, 2 ** 30 / 8)).toBe(MAX_ROW_GROUP_ROWS);
    expect(rowGroupRows(2 ** 30, 2 ** 30 / 32_768)).toBe(MIN_ROW_GROUP_ROWS);
    expect(rowGroupRows(0, 0)).toBe(MAX_ROW_GROUP_ROWS);
  });

  it('holds a group of many columns to MAX_ROW_GROUP_VALUES values, and never below MIN_ROW_GROUP_ROWS rows', () => {
    // 33 MiB of 129-byte events: 32,572 rows for a few columns; for 100 or 200 (sparse ones too),
    // whole vectors of 2,048 rows within the bound, as DuckDB writes them.
    const [bytes, events] = [33 * 2 ** 20, 268_721];
    expect(rowGroupRows(bytes, events, 10)).toBe(32_572);
    expect(rowGroupRows(bytes, events, 100)).toBe(3 * MIN_ROW_GROUP_ROWS);
    expect(rowGroupRows(bytes, events, 200)).toBe(MIN_ROW_GROUP_ROWS);
    for (const columns of [100, 200, 390]) {
      expect(rowGroupRows(bytes, events, columns) * columns).toBeLessThanOrEqual(MAX_ROW_GROUP_VALUES);
    }
    expect(rowGroupRows(bytes, events, 1_000)).toBe(MIN_ROW_GROUP_ROWS);
  });
});

describe('rowGroupBytes', () => {
  it('bounds a row group by runs of 2,048 lines at the largest run, and by the generation', () => {
    // 512-byte events: 8,192 rows, four runs of 2,048 × 512 bytes.
    expect(rowGroupBytes(256 * 2 ** 20, (256 * 2 ** 20) / 512, 2048 * 512)).toBe(8192 * 512);
    // 200-byte events with 2,100 of 29 KB together: groups of 2,048 rows, one of them all large.
    const raw = 20_000 * 200 + 2_100 * 29_000;
    expect(rowGroupBytes(raw, 22_100, 2048 * 29_000)).toBe(2048 * 29_000);
    // A generation smaller than one group: the generation.
    expect(rowGroupBytes(32_000_000, 1_144, 32_000_000)).toBe(32_000_000);
  });
});

describe('LargestRun', () => {
  it('is the most bytes of any 2,048 consecutive lines', () => {
    const run = new LargestRun();
    for (let i = 0; i < 5_000; i += 1) run.add(200);
    expect(run.most).toBe(2048 * 200);
    for (let i = 0; i < 100; i += 1) run.add(29_000);
    expect(run.most).toBe(1948 * 200 + 100 * 29_000);
    for (let i = 0; i < 5_000; i += 1) run.add(10);
    expect(run.most).toBe(1948 * 200 + 100 * 29_000);
  });
});
