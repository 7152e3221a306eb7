import { describe, expect, it } from '@jest/globals';
import { escapedKeys, withKeysUnescaped } from './escaped-keys.js';
import { parseExactJson } from './exact-json.js';

/** A first key no other test uses: V8 follows a key it met before only where it met no other there. */
let fresh = 0;
const prefix = () => `"only-here-${fresh++}":"x"`;

describe('escaped keys', () => {
  // Each case: a key ending in a backslash that JSON.parse reads first, then an escaped key whose
  // text starts with it, at the same place and last in its object. V8's JSON.parse (Node 24.21)
  // names the second as the first (nodejs/node#63785); the ingest must not.
  it.each([
    ['\\\\', '\\u0061', 'a'],
    ['\\\\', '\\u00e9', 'é'],
    ['\\\\', '\\"', '"'],
    ['\\\\', '\\n', '\n'],
    ['path\\\\', 'path\\u00e9', 'pathé'],
    ['path\\\\', 'path\\"', 'path"'],
    ['path\\\\', 'path\\n', 'path\n'],
    ['C:\\\\', 'C:\\u00e9Users', 'C:éUsers'],
  ])('reads %s then %s as %j, whatever JSON.parse met before', (poison, escaped, name) => {
    const first = prefix();
    JSON.parse(`{${first},"${poison}":1}`);
    JSON.parse(`{${first},"${poison}":1}`);
    const value = parseExactJson(`{${first},"${escaped}":2}`) as Record<string, unknown>;
    expect(Object.keys(value).slice(1)).toEqual([name]);
    expect(value[name]).toBe(2);
  });

  it('finds the keys written with escapes, and no string that is no key', () => {
    const keysOf = (text: string) => escapedKeys(text).map(([start, end]) => text.slice(start, end));
    expect(keysOf('{"a\\u0062":1}')).toEqual(['"a\\u0062"']);
    expect(keysOf('{"a":{"b":[{"c\\n" \t\r\n : 1}]},"\\"\\"":2}')).toEqual(['"c\\n"', '"\\"\\""']);
    expect(keysOf('{"a":"b\\"c","d":"\\\\","e":["\\\\",":"]}')).toEqual([]);
    expect(keysOf('{"a":"x\\\\","b\\"":1}')).toEqual(['"b\\""']);
    expect(keysOf('"\\u0041"')).toEqual([]);
    expect(keysOf('{"url":"https:\\/\\/example.com\\/"}')).toEqual([]);
  });

  it('writes escaped keys out without their escapes where JSON allows it', () => {
    const unescaped = (text: string) => withKeysUnescaped(text, escapedKeys(text));
    expect(unescaped('{"pr\\u00e9nom":"\\u00e9","\\u0041\\/":1}')).toBe('{"prénom":"\\u00e9","A/":1}');
    for (const key of ['k\\"', 'k\\\\', 'k\\n', 'k\\u0000', 'k\\ud800']) {
      expect(unescaped(`{"${key}":1}`)).toBeUndefined();
    }
  });
});
