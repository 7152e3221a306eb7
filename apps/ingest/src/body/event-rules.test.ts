import { describe, expect, it } from '@jest/globals';
import { checkEvent, isPlainObject, MAX_EVENT_DEPTH } from './event-rules.js';
import { parseExactJson } from './exact-json.js';

const nested = (depth: number): unknown => {
  let value: unknown = {};
  for (let i = 1; i < depth; i += 1) value = { a: value };
  return value;
};

describe('checkEvent', () => {
  it('accepts an ordinary event', () => {
    expect(checkEvent({ event: 'x', props: { list: [1, { a: 'b' }] }, constructor: 'fine' })).toBeUndefined();
  });

  it.each([null, 1, 'text', [], [{}], true])('refuses %p as not an object', (value) => {
    expect(checkEvent(value)?.code).toBe('SPOOL_INVALID_EVENT');
  });

  it('refuses __proto__ at any depth, and constructor.prototype', () => {
    expect(checkEvent(JSON.parse('{"__proto__":{}}'))?.code).toBe('SPOOL_FORBIDDEN_KEY');
    expect(checkEvent(JSON.parse('{"a":[{"b":{"__proto__":1}}]}'))?.code).toBe('SPOOL_FORBIDDEN_KEY');
    expect(checkEvent({ constructor: { prototype: {} } })?.code).toBe('SPOOL_FORBIDDEN_KEY');
  });

  it('refuses a number JSON.parse reads as Infinity (it would be stored as null), at any depth', () => {
    for (const text of ['{"big":1e400}', '{"a":[1,-1e999]}', '{"a":{"b":[{"c":1e309}]}}']) {
      expect(checkEvent(JSON.parse(text))).toMatchObject({
        code: 'SPOOL_INVALID_EVENT',
        message: expect.stringContaining('out of range'),
      });
    }
    expect(checkEvent(JSON.parse('{"max":1.7976931348623157e308,"tiny":1e-400}'))).toBeUndefined();
  });

  it('allows 64 levels of nesting and no more, as docs/api.md says', () => {
    expect(checkEvent(nested(64))).toBeUndefined();
    expect(checkEvent(nested(65))?.code).toBe('SPOOL_EVENT_TOO_DEEP');
  });

  it('refuses a messageId with a lone surrogate: it has no UTF-8 form, and two such ids would look alike to dedupe', () => {
    expect(checkEvent({ messageId: 'id-\ud800' })).toEqual({
      code: 'SPOOL_INVALID_EVENT',
      message: 'messageId is not well-formed Unicode (a lone surrogate)',
    });
    expect(checkEvent({ messageId: 'id-\ud83d\ude00' })).toBeUndefined();
  });

  it('takes an integer past 2^53, held as its text, as a number: no object, no level of nesting', () => {
    const big = parseExactJson('12345678901234567890');
    expect(isPlainObject(big)).toBe(false);
    expect(checkEvent(big)).toEqual({
      code: 'SPOOL_INVALID_EVENT',
      message: 'an event must be a JSON object, not a number',
    });
    // The deepest level allowed may hold one, as it may hold any number.
    const deepest = `${'{"a":'.repeat(MAX_EVENT_DEPTH - 1)}{"n":12345678901234567890}${'}'.repeat(MAX_EVENT_DEPTH - 1)}`;
    expect(checkEvent(parseExactJson(deepest))).toBeUndefined();
    expect(checkEvent(parseExactJson(`{"a":${deepest}}`))?.code).toBe('SPOOL_EVENT_TOO_DEEP');
  });
});
