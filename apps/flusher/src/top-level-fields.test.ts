import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { FieldNames, MAX_KEPT_FIELD_NAMES, scanTopLevel, ValueKind } from './top-level-fields.js';

/** What JSON.parse makes of a value, in the scan's terms. */
function parsedKind(value: unknown): ValueKind {
  if (value === null) return ValueKind.Null;
  if (typeof value === 'boolean') return ValueKind.Boolean;
  if (typeof value === 'string') return ValueKind.String;
  if (typeof value === 'number') {
    return Number.isInteger(value) && Math.abs(value) < 2 ** 63 ? ValueKind.Integer : ValueKind.Decimal;
  }
  return ValueKind.Nested;
}

function scan(text: string, names = new FieldNames()) {
  const line = Buffer.from(text);
  const fields: Array<[string, ValueKind, string]> = [];
  scanTopLevel(line, 0, line.length, names, (name, kind, start, end) =>
    fields.push([name, kind, line.toString('utf8', start, end)]),
  );
  return fields;
}

describe('scanTopLevel', () => {
  it('finds every top-level field with the kind JSON.parse gives its value, whatever the object', () => {
    const names = new FieldNames();
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        const text = JSON.stringify(object);
        // Integers written as decimals ("1.0" cannot come from JSON.stringify) aside, the same.
        const expected = Object.entries(JSON.parse(text) as Record<string, unknown>).map(([name, value]) => [
          name,
          parsedKind(value),
        ]);
        expect(scan(text, names).map(([name, kind]) => [name, kind])).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps no more than MAX_KEPT_FIELD_NAMES names (a name of its own in each event), and reads every one past them', () => {
    const names = new FieldNames();
    const count = MAX_KEPT_FIELD_NAMES + 1_000;
    for (let i = 0; i < count; i++) {
      expect(scan(`{"user-${i}":1,"caf\\u00e9":2}`, names).map(([name]) => name)).toEqual([
        `user-${i}`,
        'café',
      ]);
    }
    expect(names.size).toBe(MAX_KEPT_FIELD_NAMES);
  });

  it('reads strings, escapes, nesting and spacing as JSON does', () => {
    expect(
      scan(
        '{ "a" : "x\\"}y" , "b\\u0041":{"c":"}]","d":[1,{"e":"\\\\"}]} ,"n":-12,"f":1.5e3,"t":true,"z":null }',
      ),
    ).toEqual([
      ['a', ValueKind.String, 'x\\"}y'],
      ['bA', ValueKind.Nested, '{"c":"}]","d":[1,{"e":"\\\\"}]}'],
      ['n', ValueKind.Integer, '-12'],
      ['f', ValueKind.Decimal, '1.5e3'],
      ['t', ValueKind.Boolean, 'true'],
      ['z', ValueKind.Null, 'null'],
    ]);
  });

  it('takes integers from the smallest BIGINT to the largest, and no further', () => {
    expect(
      scan(
        '{"max":9223372036854775807,"over":9223372036854775808,"min":-9223372036854775808,"under":-9223372036854775809}',
      ),
    ).toEqual([
      ['max', ValueKind.Integer, '9223372036854775807'],
      ['over', ValueKind.Decimal, '9223372036854775808'],
      ['min', ValueKind.Integer, '-9223372036854775808'],
      ['under', ValueKind.Decimal, '-9223372036854775809'],
    ]);
  });

  it('stops without throwing on a line that is not a JSON object', () => {
    for (const text of ['', '[1,2]', '{"a":', '{"a":"unterminated', '{"a":{"b":1}', 'nonsense']) {
      expect(() => scan(text)).not.toThrow();
    }
  });
});
