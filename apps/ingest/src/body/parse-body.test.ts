import { describe, expect, it } from '@jest/globals';
import { declaresOtherCharset, parseBody } from './parse-body.js';

// V8's syntax-error message quotes the text around the error, and cuts it mid-emoji here.
const EMOJI_LINE = '😀😀😀😀😀😀';

describe('parseBody', () => {
  it("makes JSON's syntax-error messages well-formed: one that quotes half an emoji is no lone surrogate", () => {
    const lines = parseBody(Buffer.from(`{"event":"ok"}\n${EMOJI_LINE}\n`), 'ndjson', 100);
    const bad = lines.items[1] as { parseError: string };
    expect(bad.parseError).toMatch(/^line is not valid JSON: /);
    expect(bad.parseError.isWellFormed()).toBe(true);
    // What V8 says of it as is: the case the test is about.
    expect(() => JSON.parse(EMOJI_LINE)).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/\ud83d(?![\udc00-\udfff])/) }),
    );

    let refusal: Error | undefined;
    try {
      parseBody(Buffer.from(EMOJI_LINE), 'json', 100);
    } catch (error) {
      refusal = error as Error;
    }
    expect(refusal).toMatchObject({ code: 'SPOOL_INVALID_JSON' });
    expect(refusal?.message.isWellFormed()).toBe(true);
  });
});

describe('parseBody, what it lets through', () => {
  it('reads a body that opens with a byte order mark, as if it had none', () => {
    for (const kind of ['json', 'ndjson'] as const) {
      expect(parseBody(Buffer.from('\ufeff{"a":1}'), kind, 100).items).toEqual(
        parseBody(Buffer.from('{"a":1}'), kind, 100).items,
      );
    }
  });

  it.each(['json', 'ndjson'] as const)(
    'takes a %s body of exactly MAX_EVENTS_PER_REQUEST events, and refuses one more',
    (kind) => {
      const body = (count: number) => {
        const events = Array.from({ length: count }, (_, n) => JSON.stringify({ n }));
        return Buffer.from(kind === 'json' ? `[${events.join(',')}]` : events.join('\n'));
      };
      expect(parseBody(body(3), kind, 3).items).toHaveLength(3);
      expect(() => parseBody(body(4), kind, 3)).toThrow(
        expect.objectContaining({ code: 'SPOOL_TOO_MANY_EVENTS' }),
      );
    },
  );
});

describe('declaresOtherCharset', () => {
  it.each([
    undefined,
    'application/json',
    'text/plain;charset=UTF-8',
    'application/json; charset="utf-8"',
    'application/json; charset = utf8',
    'application/x-ndjson; charset=us-ascii',
    'application/json; charset=ascii',
    'application/json; boundary=x',
  ])('takes %s as UTF-8', (contentType) => {
    expect(declaresOtherCharset(contentType)).toBe(false);
  });

  it.each([
    'application/json; charset=utf-16',
    'text/plain;charset="ISO-8859-1"',
    'application/json;CHARSET=windows-1252',
    'application/json; charset=',
  ])('refuses %s', (contentType) => {
    expect(declaresOtherCharset(contentType)).toBe(true);
  });
});
