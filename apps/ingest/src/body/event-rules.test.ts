import { describe, expect, it } from '@jest/globals';
import { checkEvent, MAX_EVENT_DEPTH } from './event-rules.js';

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

  it(`allows ${MAX_EVENT_DEPTH} levels of nesting and no more`, () => {
    expect(checkEvent(nested(MAX_EVENT_DEPTH))).toBeUndefined();
    expect(checkEvent(nested(MAX_EVENT_DEPTH + 1))?.code).toBe('SPOOL_EVENT_TOO_DEEP');
  });
});
