import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { escapeLineSeparators } from './line-separators.js';
import {
  cutText,
  jsonText,
  MAX_LISTED_REJECTIONS,
  MAX_REJECTED_TEXT,
  MAX_REJECTED_TEXT_BYTES,
  storedLine,
  toLines,
} from './to-lines.js';

const STAMP = '2026-11-27T06:00:00.000Z';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/**
 * The definition storedLine must match: the server's receivedAt, the messageId (the client's, or
 * the server's), then the event's other fields (its receivedAt and messageId left out).
 */
function reference(event: Record<string, unknown>, messageId: string): string {
  const own = Object.fromEntries(
    Object.entries(event).filter(([name]) => name !== 'receivedAt' && name !== 'messageId'),
  );
  const ownJson = JSON.stringify(own);
  const serverJson = JSON.stringify({ receivedAt: STAMP, messageId });
  return `${ownJson === '{}' ? serverJson : `${serverJson.slice(0, -1)},${ownJson.slice(1)}`}\n`;
}

/** Where Python's str.splitlines() ends a line (its docs' table): a reader of stored lines may. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: Python's table names these controls.
const PYTHON_LINE_BOUNDARIES = /\r\n|[\n\v\f\r\x1c-\x1e\x85\u2028\u2029]/;

/** A rejected text's size in its quarantine entry: its JSON, line breaks escaped (group-commit.ts). */
const storedBytes = (text: string) => Buffer.byteLength(escapeLineSeparators(JSON.stringify(text)));

describe('storedLine', () => {
  it('is the JSON of receivedAt and messageId, then the rest of the event, for any event', () => {
    const fieldValue = fc.oneof(fc.jsonValue(), fc.constant(''), fc.string(), fc.integer());
    const event = fc.dictionary(
      fc.oneof(fc.string(), fc.constantFrom('messageId', 'receivedAt', '0', '10', 'a"b', 'é')),
      fieldValue,
    );
    fc.assert(
      fc.property(event, (value) => {
        const line = storedLine(value, STAMP);
        const stored = JSON.parse(line) as Record<string, unknown>;
        const clientId = typeof value.messageId === 'string' && value.messageId !== '';
        if (clientId) expect(stored.messageId).toBe(value.messageId);
        else expect(stored.messageId).toMatch(UUID);
        expect(line).toBe(reference(value, stored.messageId as string));
      }),
      { numRuns: 2_000 },
    );
  });

  it("writes the server's fields first: its receivedAt for the client's, the client's messageId moved", () => {
    expect(storedLine({ a: 1, receivedAt: 'client', messageId: 'm-1' }, STAMP)).toBe(
      `{"receivedAt":"${STAMP}","messageId":"m-1","a":1}\n`,
    );
    const event = { a: 1, messageId: 'm-"1' };
    expect(storedLine(event, STAMP)).toBe(`{"receivedAt":"${STAMP}","messageId":"m-\\"1","a":1}\n`);
    // The event itself is as it was (its messageId is left out of the JSON without a copy).
    expect(event).toEqual({ a: 1, messageId: 'm-"1' });
    // A field named like a server field in another case comes after Spool's own, which readers
    // matching names without case (DuckDB's read_json) then take for the column.
    for (const own of [{}, { messageId: 'own-1' }]) {
      const line = storedLine({ MessageID: 'dup', ReceivedAt: '2020-01-01T00:00:00Z', ...own }, STAMP);
      expect(line).toMatch(
        new RegExp(
          `^\\{"receivedAt":"${STAMP}","messageId":"[0-9a-z-]+","MessageID":"dup","ReceivedAt":"2020`,
        ),
      );
    }
  });

  it('gives an event with no messageId, or an empty or non-string one, a new UUID', () => {
    for (const event of [{}, { messageId: '' }, { messageId: 7 }, { a: { messageId: 'nested' } }]) {
      const stored = JSON.parse(storedLine(event, STAMP));
      expect(stored.messageId).toMatch(UUID);
      expect(stored.receivedAt).toBe(STAMP);
    }
  });
});

describe('toLines', () => {
  it('stores U+2028, U+2029 and U+0085 escaped, so that a reader splitting as Python does sees one line an event, the same event', () => {
    const separators = fc.constantFrom('a\u2028b', '\u2029', 'é\u2028\u2029', '\u0085x', '料\u2028', 'plain');
    // Keys and values the native API stores as they are (no `__proto__`, which it refuses), and
    // no key ending in a backslash: after one, V8's JSON.parse (this test's reader) may misread a
    // later escaped key (nodejs/node#63785, api.md), and read `\u2029` as a backslash (a clean
    // clone's run). The ingest reads bodies apart for that; the stored text here is right.
    const text = fc
      .oneof(fc.string(), separators)
      .filter((key) => key !== '__proto__' && !key.endsWith('\\'));
    const event = fc.dictionary(text, fc.oneof(text, fc.integer(), fc.array(text)), { minKeys: 1 });
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 5 }), (events) => {
        const body = { shape: 'batch' as const, items: events.map((value) => ({ value })) };
        const lines = toLines(body, new Date(STAMP), { maxEventBytes: 1e6, maxStoredBytes: 1e7 });
        expect(lines.rejectedCount).toBe(0);
        expect(lines.text).not.toMatch(/[\u0085\u2028\u2029]/);
        const stored = lines.text.split(PYTHON_LINE_BOUNDARIES);
        expect(stored.pop()).toBe('');
        expect(stored).toEqual(lines.parts.map((part) => part.slice(0, -1)));
        expect(lines.bytes).toBe(Buffer.byteLength(lines.text));
        for (const [index, text] of stored.entries()) {
          const { receivedAt: _, messageId, ...own } = JSON.parse(text);
          const { receivedAt: _sent, messageId: sentId, ...sent } = events[index] as Record<string, unknown>;
          expect(own).toEqual(JSON.parse(JSON.stringify(sent)));
          if (typeof sentId === 'string' && sentId !== '') expect(messageId).toBe(sentId);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('mends a lone surrogate in a value to U+FFFD, and refuses one in a key', () => {
    // As JSON.parse reads them: lone surrogates, a pair (an emoji), and the escape's text itself.
    const events = JSON.parse(
      '[{"cut":"ab\\ud83d","list":["\\udc00",{"deep":"x\\ud83dy"}],"ok":"\\ud83d\\ude00","text":"\\\\ud83d"},' +
        '{"\\ud83d":1},{"plain":"été"}]',
    ) as unknown[];
    const lines = toLines({ shape: 'batch', items: events.map((value) => ({ value })) }, new Date(STAMP), {
      maxEventBytes: 1024,
      maxStoredBytes: 1e6,
    });
    const [mended, plain] = lines.parts.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(mended).toMatchObject({
      cut: 'ab\ufffd',
      list: ['\ufffd', { deep: 'x\ufffdy' }],
      ok: '😀',
      text: '\\ud83d',
    });
    expect(plain).toMatchObject({ plain: 'été' });
    expect(lines.rejected).toEqual([
      { index: 1, code: 'SPOOL_INVALID_EVENT', message: expect.stringContaining('lone surrogate') },
    ]);
    expect(lines.bytes).toBe(Buffer.byteLength(lines.text));
  });

  it('looks for lone surrogates only in what the line stores, whatever else the event holds', () => {
    // A client's receivedAt and a messageId that is no string are left out of the line; another
    // value with a lone surrogate (or the text "\\ud") used to get the event refused for them.
    const events = JSON.parse(
      '[{"a":"x","receivedAt":{"\\ud800":1}},{"a":"C:\\\\udata","receivedAt":{"\\ud800":1}},' +
        '{"a":"\\ud83d","receivedAt":{"\\ud800":1}},{"a":"\\ud83d","messageId":{"\\ud800":1}}]',
    ) as unknown[];
    const lines = toLines({ shape: 'batch', items: events.map((value) => ({ value })) }, new Date(STAMP), {
      maxEventBytes: 1024,
      maxStoredBytes: 1e6,
    });
    expect(lines.rejected).toEqual([]);
    expect(lines.parts.map((line) => (JSON.parse(line) as { a: string }).a)).toEqual([
      'x',
      'C:\\udata',
      '\ufffd',
      '\ufffd',
    ]);
    for (const line of lines.parts)
      expect(JSON.parse(line)).toMatchObject({ receivedAt: STAMP, messageId: expect.stringMatching(UUID) });
  });

  it('stores good events, lists bad ones by index, and counts stored bytes', () => {
    const lines = toLines(
      {
        shape: 'batch',
        items: [
          { value: { a: 'é' } },
          { parseError: 'bad', raw: '{"x":' },
          { value: [1] },
          { value: { b: 2 } },
        ],
      },
      new Date(STAMP),
      { maxEventBytes: 1024, maxStoredBytes: 1e6 },
    );
    expect(lines.count).toBe(2);
    expect(lines.rejected.map((r) => [r.index, r.code])).toEqual([
      [1, 'SPOOL_INVALID_JSON'],
      [2, 'SPOOL_INVALID_EVENT'],
    ]);
    // Their text, for the quarantine: the line as sent, or the value as JSON.
    expect(lines.rejectedText).toEqual(['{"x":', '[1]']);
    expect(
      lines.text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line).receivedAt),
    ).toEqual([STAMP, STAMP]);
    expect(lines.bytes).toBe(Buffer.byteLength(lines.text));
  });

  it('cuts a rejected text to MAX_REJECTED_TEXT, never between the halves of a character', () => {
    // An emoji (two UTF-16 units) at every offset around the cut.
    fc.assert(
      fc.property(fc.integer({ min: MAX_REJECTED_TEXT - 3, max: MAX_REJECTED_TEXT + 1 }), (before) => {
        const text = `${'x'.repeat(before)}😀 broken`;
        const cut = cutText(text);
        expect(cut.isWellFormed()).toBe(true);
        expect(cut.length).toBeGreaterThanOrEqual(MAX_REJECTED_TEXT - 1);
        expect(cut.length).toBeLessThanOrEqual(MAX_REJECTED_TEXT);
        expect(text.startsWith(cut)).toBe(true);
      }),
    );
    const lines = toLines(
      { shape: 'batch', items: [{ parseError: 'bad', raw: `${'x'.repeat(MAX_REJECTED_TEXT - 1)}😀` }] },
      new Date(STAMP),
      { maxEventBytes: 1024, maxStoredBytes: 1e6 },
    );
    expect(lines.rejectedText).toEqual(['x'.repeat(MAX_REJECTED_TEXT - 1)]);
    expect(lines.rejectedTextCut).toEqual([true]);
  });

  it('says which rejected texts were cut: a parsed value of exactly MAX_REJECTED_TEXT units is whole', () => {
    const exact = `"${'x'.repeat(MAX_REJECTED_TEXT - 2)}"`;
    const longer = `"${'x'.repeat(MAX_REJECTED_TEXT - 1)}"`;
    const items = [exact, longer, '"short"'].map((text) => ({ value: JSON.parse(text) as unknown }));
    const lines = toLines({ shape: 'batch', items }, new Date(STAMP), {
      maxEventBytes: 1024 * 1024,
      maxStoredBytes: 1e6,
    });
    expect(lines.rejectedText.map((text) => text.length)).toEqual([MAX_REJECTED_TEXT, MAX_REJECTED_TEXT, 7]);
    expect(lines.rejectedTextCut).toEqual([false, true, false]);
  });

  it('cuts a rejected text further where its JSON would pass MAX_REJECTED_TEXT_BYTES (controls, other scripts)', () => {
    expect(cutText('x'.repeat(MAX_REJECTED_TEXT))).toHaveLength(MAX_REJECTED_TEXT);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 0, maxLength: 3 * MAX_REJECTED_TEXT }), (text) => {
        const cut = cutText(text);
        expect(text.startsWith(cut)).toBe(true);
        expect(cut.length).toBeLessThanOrEqual(MAX_REJECTED_TEXT);
        expect(storedBytes(cut)).toBeLessThanOrEqual(MAX_REJECTED_TEXT_BYTES);
      }),
      { numRuns: 300 },
    );
    // 2,048 control characters were 12.3 KB as JSON; 2,048 of a 3-byte script 6 KB; U+0085 and
    // U+2028, escaped as the quarantine stores them, 12.3 KB (measured before the escapes).
    for (const char of ['\u0001', '\u4e2d', '\u0085', '\u2028']) {
      const cut = cutText(char.repeat(MAX_REJECTED_TEXT));
      expect(storedBytes(cut)).toBeLessThanOrEqual(MAX_REJECTED_TEXT_BYTES);
      expect(storedBytes(cut)).toBeGreaterThan(MAX_REJECTED_TEXT_BYTES - 12);
    }
  });

  it("writes a refused number past a double's range as 1e999 in the rejected text, not JSON's null", () => {
    const items = ['{"n":1e400,"list":[-1e400,2]}', '{"s":"1e400","t":null}'].map((text) => ({
      value: JSON.parse(text) as unknown,
    }));
    const lines = toLines({ shape: 'batch', items }, new Date(STAMP), {
      maxEventBytes: 1024,
      maxStoredBytes: 1e6,
    });
    expect(lines.rejected.map((r) => r.index)).toEqual([0]);
    expect(lines.rejectedText).toEqual(['{"n":1e999,"list":[-1e999,2]}']);
    expect(lines.count).toBe(1);
  });

  it('keeps the text of an event too deep, however deep, and throws nothing', () => {
    // JSON.stringify ran out of stack at some 2,300 levels of arrays (4.6 KB of body), and the
    // quarantine kept no text (a review's run).
    const nested = (depth: number, wrap: (inner: unknown) => unknown) => {
      let value: unknown = { end: 1 };
      for (let i = 0; i < depth; i += 1) value = wrap(value);
      return value;
    };
    for (const [event, opening, repeated] of [
      [{ a: nested(2_300, (inner) => [inner]) }, '{"a":', '['],
      [nested(5_000, (inner) => ({ d: inner })), '', '{"d":'],
      [nested(100_000, (inner) => ({ d: inner })), '', '{"d":'],
    ] as const) {
      const lines = toLines(
        { shape: 'batch', items: [{ value: event }, { value: { ok: 1 } }] },
        new Date(STAMP),
        { maxEventBytes: 1024, maxStoredBytes: 1e6 },
      );
      expect(lines.rejected.map((r) => r.code)).toEqual(['SPOOL_EVENT_TOO_DEEP']);
      expect(lines.rejectedText[0]).toBe((opening + repeated.repeat(2_048)).slice(0, 2_048));
      expect(lines.rejectedTextCut).toEqual([true]);
      expect(lines.count).toBe(1);
    }
  });

  it('writes a refused value as JSON.stringify does, numbers past 2^53 as they came', () => {
    const values = [
      { a: [1, 'two', null, true, { b: [] }, {}], 'k"ey': '\u0000\ud83d\ude00', n: -0.5e-7 },
      [[], [[]], {}, [{}]],
      'plain',
      42,
      null,
    ];
    for (const value of values) expect(jsonText(value)).toBe(JSON.stringify(value));
    const raw = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON('9007199254740993');
    expect(jsonText({ id: raw, list: [raw] })).toBe('{"id":9007199254740993,"list":[9007199254740993]}');
    expect(jsonText(undefined)).toBe('undefined');
    // Any JSON value: JSON.stringify's text, or its first MAX_REJECTED_TEXT units and a little more.
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const whole = JSON.stringify(value);
        const text = jsonText(value);
        return whole.length <= MAX_REJECTED_TEXT
          ? text === whole
          : whole.startsWith(text) && text.length >= MAX_REJECTED_TEXT;
      }),
    );
  });

  it('refuses an event over the limit as stored, server fields included', () => {
    const event = { pad: 'x'.repeat(100) };
    const size = Buffer.byteLength(storedLine(event, STAMP));
    const at = (limit: number) =>
      toLines({ shape: 'single', items: [{ value: event }] }, new Date(STAMP), {
        maxEventBytes: limit,
        maxStoredBytes: 1e6,
      });
    expect(at(size).count).toBe(1);
    expect(at(size - 1).rejected[0]?.code).toBe('SPOOL_EVENT_TOO_LARGE');
    // Kept for the quarantine as sent: no receivedAt or messageId the client never sent.
    expect(at(size - 1).rejectedText).toEqual([JSON.stringify(event)]);
  });

  it('keeps a prepared message refused as too large as its stored line: what Spool added may be what took it over', () => {
    const event = { pad: 'x'.repeat(100) };
    const prepare = (value: unknown) => ({
      message: { ...(value as object), context: { library: 'added' } },
    });
    const lines = toLines(
      { shape: 'single', items: [{ value: event }] },
      new Date(STAMP),
      { maxEventBytes: 110, maxStoredBytes: 1e6 },
      prepare,
    );
    expect(lines.rejected[0]?.code).toBe('SPOOL_EVENT_TOO_LARGE');
    const [kept] = lines.rejectedText;
    expect(JSON.parse(kept as string)).toEqual({
      receivedAt: STAMP,
      messageId: expect.stringMatching(UUID),
      pad: event.pad,
      context: { library: 'added' },
    });
  });

  it('lists the line index of each client messageId, and none for generated ones', () => {
    const lines = toLines(
      {
        shape: 'batch',
        items: [
          { value: { messageId: 'm-1' } },
          { value: 7 },
          { value: { a: 1 } },
          { value: { messageId: '' } },
          { value: { messageId: 'm-2' } },
        ],
      },
      new Date(STAMP),
      { maxEventBytes: 1024, maxStoredBytes: 1e6 },
    );
    // Indexes count stored lines (the rejected 7 is not one).
    expect(lines.clientIds).toEqual({ ids: ['m-1', 'm-2'], lines: [0, 3] });
  });

  it('lists the first 100 rejected events and counts them all', () => {
    const items = Array.from({ length: 250 }, (_, i) => ({ value: i % 5 === 0 ? { ok: i } : i }));
    const lines = toLines({ shape: 'batch', items }, new Date(STAMP), {
      maxEventBytes: 1024,
      maxStoredBytes: 1e6,
    });
    expect(lines.count).toBe(50);
    expect(lines.rejectedCount).toBe(200);
    expect(lines.rejected).toHaveLength(MAX_LISTED_REJECTIONS);
    expect(lines.rejected[99]?.index).toBe(124);
  });

  it('refuses the whole request once its stored lines pass the limit', () => {
    // Numbers such as 9e15 grow when stored (16 digits): the stored form is what counts.
    const items = Array.from({ length: 10 }, () => ({ value: { n: [9e15, 9e15, 9e15, 9e15] } }));
    const limits = { maxEventBytes: 1024, maxStoredBytes: 1_000 };
    expect(() => toLines({ shape: 'batch', items }, new Date(STAMP), limits)).toThrow(
      expect.objectContaining({ code: 'SPOOL_REQUEST_TOO_LARGE', statusCode: 413 }),
    );
    expect(toLines({ shape: 'batch', items: items.slice(0, 4) }, new Date(STAMP), limits).count).toBe(4);
    // Lines of exactly the limit pass; one byte less refuses them.
    const four = toLines({ shape: 'batch', items: items.slice(0, 4) }, new Date(STAMP), limits).bytes;
    expect(
      toLines({ shape: 'batch', items: items.slice(0, 4) }, new Date(STAMP), {
        ...limits,
        maxStoredBytes: four,
      }).count,
    ).toBe(4);
    expect(() =>
      toLines({ shape: 'batch', items: items.slice(0, 4) }, new Date(STAMP), {
        ...limits,
        maxStoredBytes: four - 1,
      }),
    ).toThrow(expect.objectContaining({ code: 'SPOOL_REQUEST_TOO_LARGE' }));
  });

  it('counts the lines it refuses as too large toward that limit: a shared context cannot multiply unbounded', () => {
    // As a tracking batch's `context` is merged into each of its messages: every line is made,
    // each over MAX_EVENT_BYTES, from one small body.
    const shared = { big: 'y'.repeat(2_000) };
    const items = Array.from({ length: 2_500 }, () => ({ value: {} }));
    let made = 0;
    const prepare = (value: unknown) => {
      made += 1;
      return { message: { ...(value as object), context: shared } };
    };
    const limits = { maxEventBytes: 1024, maxStoredBytes: 10_000 };
    expect(() => toLines({ shape: 'batch', items }, new Date(STAMP), limits, prepare)).toThrow(
      expect.objectContaining({ code: 'SPOOL_REQUEST_TOO_LARGE', statusCode: 413 }),
    );
    expect(made).toBe(5);
    // Below the limit they are refused one by one, as before.
    const few = toLines({ shape: 'batch', items: items.slice(0, 4) }, new Date(STAMP), limits, prepare);
    expect(few).toMatchObject({ count: 0, rejectedCount: 4 });
  });

  it('counts the lines it refuses for a lone surrogate in a key toward that limit too', () => {
    // A shared context holding such a key: every message refused for it, every line still made.
    const shared = { big: 'y'.repeat(2_000), '\ud800': 1 };
    const items = Array.from({ length: 2_500 }, () => ({ value: {} }));
    let made = 0;
    const prepare = (value: unknown) => {
      made += 1;
      return { message: { ...(value as object), context: shared } };
    };
    const limits = { maxEventBytes: 100_000, maxStoredBytes: 10_000 };
    expect(() => toLines({ shape: 'batch', items }, new Date(STAMP), limits, prepare)).toThrow(
      expect.objectContaining({ code: 'SPOOL_REQUEST_TOO_LARGE', statusCode: 413 }),
    );
    expect(made).toBe(5);
    const few = toLines({ shape: 'batch', items: items.slice(0, 4) }, new Date(STAMP), limits, prepare);
    expect(few).toMatchObject({ count: 0, rejectedCount: 4 });
    expect(few.rejected[0]).toMatchObject({ code: 'SPOOL_INVALID_EVENT' });
  });
});
