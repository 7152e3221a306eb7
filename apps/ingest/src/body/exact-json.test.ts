import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { isRawNumber, parseExactJson, parseWeighedJson } from './exact-json.js';

describe('parseExactJson', () => {
  it('keeps the digits of every integer past 2^53, wherever it is, and JSON.stringify writes them as sent', () => {
    const text =
      '{"id":9007199254740993,"min":-9223372036854775808,"u64":18446744073709551615,' +
      '"list":[1,12345678901234567891,{"deep":[99999999999999999999]}],"exp":1e300,"whole":12345678901234567890.0}';
    const value = parseExactJson(text) as Record<string, unknown>;
    expect(isRawNumber(value.id)).toBe(true);
    expect(JSON.stringify(value)).toBe(text);
  });

  it('reads a body without such an integer as JSON.parse does: safe integers, decimals and exponents as doubles', () => {
    const text =
      '{"a":9007199254740991,"b":-9007199254740991,"c":1.0,"d":1E3,"e":0.30000000000000004,"f":[0.1,2.5e-8]}';
    expect(parseExactJson(text)).toEqual(JSON.parse(text));
    expect(JSON.stringify(parseExactJson(text))).toBe(
      '{"a":9007199254740991,"b":-9007199254740991,"c":1,"d":1000,"e":0.30000000000000004,"f":[0.1,2.5e-8]}',
    );
  });

  it('keeps only the unsafe integers as text: the other numbers of the same body are still doubles', () => {
    const value = parseExactJson('{"big":9007199254740993,"small":1.50,"safe":42}') as Record<
      string,
      unknown
    >;
    expect(value.small).toBe(1.5);
    expect(value.safe).toBe(42);
    expect(JSON.stringify(value)).toBe('{"big":9007199254740993,"small":1.5,"safe":42}');
  });

  it('for any integers of any size, in arrays and objects: its stringify is the text sent, digit for digit', () => {
    const bigInteger = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n });
    fc.assert(
      fc.property(fc.array(bigInteger, { maxLength: 8 }), bigInteger, (list, single) => {
        const text = `{"list":[${list.join(',')}],"single":${single},"nested":{"n":[${single}]}}`;
        expect(JSON.stringify(parseExactJson(text))).toBe(text);
      }),
      { numRuns: 1_000 },
    );
  });

  it('reads any JSON as JSON.parse should, its numbers where they were: duplicate and escaped keys included', () => {
    // Each text is generated with the value JSON.parse should make of it, built in JavaScript: not
    // JSON.parse of the text, whose keys V8 may misread (escaped-keys.ts). A lone number's value is
    // JSON.parse's, with a reviver that keeps an unsafe integer's source.
    const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
    const numberValue = (token: string) =>
      JSON.parse(token, (_key, value: unknown, context?: { source?: string }) =>
        typeof value === 'number' &&
        Number.isInteger(value) &&
        !Number.isSafeInteger(value) &&
        context?.source
          ? rawJSON(context.source)
          : value,
      );
    const field = (node: Record<string, unknown>, name: string, value: unknown) =>
      Object.defineProperty(node, name, { value, writable: true, enumerable: true, configurable: true });
    // Every character escaped, as Python's json.dumps writes names that are not ASCII.
    const escapedName = (name: string) =>
      `"${Array.from({ length: name.length }, (_, i) => `\\u${name.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')}"`;
    const key = fc.oneof(
      fc.constantFrom('a', 'b', '__proto__', '0', '10', 'a"b', 'x\\y', '', 'k\\', 'k"', 'k\n', 'kè', 'k\\x'),
      fc.string(),
    );
    const number = fc.oneof(
      fc.bigInt({ min: -(10n ** 25n), max: 10n ** 25n }).map(String),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
      fc.constantFrom('1E20', '-0', '9007199254740993.5', '1e-7', '12345678901234567890.0'),
    );
    type Sample = { text: string; value: unknown };
    const { sample } = fc.letrec<{ sample: Sample }>((tie) => ({
      sample: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        number.map((text) => ({ text, value: numberValue(text) })),
        fc.string().map((text) => ({ text: JSON.stringify(text), value: text })),
        fc.constantFrom<Sample>(
          { text: 'true', value: true },
          { text: 'false', value: false },
          { text: 'null', value: null },
          { text: '"9007199254740993"', value: '9007199254740993' },
        ),
        fc.array(tie('sample'), { maxLength: 5 }).map((items) => ({
          text: `[${items.map((item) => item.text).join(' , ')}]`,
          value: items.map((item) => item.value),
        })),
        fc.array(fc.tuple(key, fc.boolean(), tie('sample')), { maxLength: 5 }).map((fields) => {
          const value: Record<string, unknown> = {};
          for (const [name, , item] of fields) field(value, name, item.value);
          const names = fields.map(
            ([name, escaped, item]) => `${escaped ? escapedName(name) : JSON.stringify(name)} :${item.text}`,
          );
          return { text: `{ ${names.join(',')} }`, value };
        }),
      ),
    }));
    fc.assert(
      fc.property(sample, ({ text, value }) => {
        expect(JSON.stringify(parseExactJson(text))).toBe(JSON.stringify(value));
      }),
      { numRuns: 3_000 },
    );
  });

  it('throws what JSON.parse throws on text that is not JSON', () => {
    expect(() => parseExactJson('{"a":12345678901234567890')).toThrow(SyntaxError);
    expect(() => parseExactJson('')).toThrow(SyntaxError);
  });

  it('a top-level integer past 2^53 is held as its text too', () => {
    const value = parseExactJson(' 12345678901234567890 ');
    expect(isRawNumber(value)).toBe(true);
    expect(JSON.stringify(value)).toBe('12345678901234567890');
  });

  it('keeps the digits beside an event nested 100,000 levels deep (no recursion)', () => {
    const depth = 100_000;
    const text = `[{"id":12345678901234567891},${'['.repeat(depth)}1${']'.repeat(depth)}]`;
    const value = parseExactJson(text) as unknown[];
    expect(JSON.stringify(value[0])).toBe('{"id":12345678901234567891}');
  });

  it('finds each number by its place: keys with escapes, strings that hold digits and quotes, empty containers', () => {
    const text =
      '{"a\\"b":9007199254740993,"s":"12345678901234567890 \\" 9007199254740995","\\u0041":[[],{},' +
      '[9007199254740997,{"k":[true,false,null,-9007199254740999]}]],"e":1E20,"x":0.5}';
    const value = parseExactJson(text) as Record<string, unknown>;
    expect(JSON.stringify(value)).toBe(text.replace('"\\u0041"', '"A"'));
  });

  it('takes the last of duplicate keys, as JSON.parse does, digits and all', () => {
    expect(JSON.stringify(parseExactJson('{"a":9007199254740993,"a":9007199254740995}'))).toBe(
      '{"a":9007199254740995}',
    );
    expect(JSON.stringify(parseExactJson('{"a":{"x":9007199254740993},"a":{"x":9007199254740992}}'))).toBe(
      '{"a":{"x":9007199254740992}}',
    );
    expect(JSON.stringify(parseExactJson('{"a":[9007199254740993],"a":"text"}'))).toBe('{"a":"text"}');
  });

  it('never writes through a key such as __proto__ to what objects inherit', () => {
    const value = parseExactJson(
      '{"__proto__":{"x":9007199254740993},"y":{"constructor":12345678901234567890}}',
    );
    expect(JSON.stringify(value)).toBe(
      '{"__proto__":{"x":9007199254740993},"y":{"constructor":12345678901234567890}}',
    );
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('parseWeighedJson', () => {
  const events = (count: number, event: (i: number) => string) =>
    `[${Array.from({ length: count }, (_, i) => event(i)).join(',')}]`;
  const weight = (text: string) => parseWeighedJson(text).heapBytes / Buffer.byteLength(text);

  it('weighs ordinary events below their size, so their room stays their size', () => {
    expect(
      weight(
        events(
          2_400,
          (i) => `{"event":"e","messageId":"m-${i}","props":{"a":"${'x'.repeat(330)}","n":${i}}}`,
        ),
      ),
    ).toBeLessThan(1);
  });

  it('weighs bodies of tiny values at what they take once parsed, many times their size', () => {
    let name = 0;
    const shapes = {
      'empty arrays': events(2_400, () => `{"v":[${Array(112).fill('[]').join(',')}]}`),
      'empty objects': events(2_400, () => `{"v":[${Array(112).fill('{}').join(',')}]}`),
      'new field names': events(
        2_400,
        () => `{${Array.from({ length: 40 }, () => `"k${(name++).toString(36)}":1`).join(',')}}`,
      ),
      'integers past 2^53': events(2_400, () => `{"v":[${Array(20).fill('9007199254740993').join(',')}]}`),
    };
    for (const text of Object.values(shapes)) expect(weight(text)).toBeGreaterThan(2);
  });

  it('weighs objects keyed by array indexes at the element stores V8 gives them', () => {
    const objects = (item: string) => events(50, () => `{"v":[${Array(41).fill(item).join(',')}]}`);
    const heap = (item: string) => parseWeighedJson(objects(item)).heapBytes;
    // Held once parsed, per object (exact-json.ts): 360 bytes for {"34":1}, 208 for {"35":1} and
    // for {"100000":1}, 40 for {"a":1}; weighed as one more field, {"34":1} held 4.4 × its room.
    expect(heap('{"34":1}')).toBeGreaterThan(3 * heap('{"a":1}'));
    expect(heap('{"100000":1}')).toBeGreaterThan(2.5 * heap('{"a":1}'));
    // Keys that only look like indexes are fields.
    for (const key of ['01', '-1', '1.5', '1e3', '4294967295']) {
      expect(heap(`{"${key}":1}`)).toBe(heap('{"a":1}'));
    }
    // Indexes spread out but not too thinly stay slots, the gaps included: 100 keys 20 apart held
    // some 15,000 bytes an object (weighed by the smaller store, 6,600).
    const spread = `{${Array.from({ length: 100 }, (_, i) => `"${i * 20}":1`).join(',')}}`;
    expect(parseWeighedJson(spread).heapBytes).toBeGreaterThan(15_000);
    // Dense indexes take a slot each, as named fields do: not a dictionary entry each.
    const dense = `{${Array.from({ length: 100 }, (_, i) => `"${i}":1`).join(',')}}`;
    const named = `{${Array.from({ length: 100 }, (_, i) => `"k${i}":1`).join(',')}}`;
    expect(heap(dense)).toBeLessThan(heap(named));
  });
});
