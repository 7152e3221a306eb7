import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { basicPassword, keyMatcher, sha256 } from './secret-keys.js';

describe('keyMatcher', () => {
  // Keys that differ in their last character only, and unicode ones: a lookup by the whole key.
  const keys = Array.from({ length: 1000 }, (_, index) => `write-key-${String(index).padStart(4, '0')}`);
  const match = keyMatcher([
    ...keys.map((key, index) => ({ key, value: index })),
    { key: 'clé-ünï', value: -1 },
  ]);

  it('names each configured key by its own value, however many there are', () => {
    keys.forEach((key, index) => {
      expect(match(key)).toBe(index);
    });
    expect(match('clé-ünï')).toBe(-1);
  });

  it.each([
    ['a key one character off', 'write-key-100'],
    ['a configured key with more after it', 'write-key-0999 '],
    ['a configured key cased otherwise', 'WRITE-KEY-0001'],
    ['unicode that only looks alike', 'cle\u0301-ünï'],
    ['an empty key', ''],
    ['a repeated query parameter (an array)', ['write-key-0001', 'write-key-0001']],
    ['no key', undefined],
  ])('names no key for %s', (_case, presented) => {
    expect(match(presented)).toBeUndefined();
  });

  it('names the first of two entries for one key, as the settings list them', () => {
    const twice = keyMatcher([
      { key: 'same-key-0', value: 'first' },
      { key: 'same-key-0', value: 'second' },
    ]);
    expect(twice('same-key-0')).toBe('first');
  });

  it('matches nothing when no keys are configured', () => {
    expect(keyMatcher([])('write-key-0001')).toBeUndefined();
  });
});

describe('basicPassword', () => {
  const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;
  it("is what follows a Basic credential's first colon, whole, colons and spaces included", () => {
    expect(basicPassword(basic('oncall:s3cret: with:colons '))).toBe('s3cret: with:colons ');
    expect(basicPassword(`bAsIc   ${Buffer.from(':key').toString('base64')}`)).toBe('key');
  });
  it('is undefined without one: no colon, an empty password, another scheme, no header', () => {
    for (const authorization of [basic('user-only'), basic('user:'), 'Bearer a:b', 'Basic', undefined]) {
      expect({ authorization, password: basicPassword(authorization) }).toEqual({
        authorization,
        password: undefined,
      });
    }
  });
});

describe('sha256', () => {
  it('is the SHA-256 digest of the text as UTF-8', () => {
    expect(sha256('abc').toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    // é is two bytes in UTF-8 (c3 a9), one in Latin-1.
    expect(sha256('é')).toEqual(
      createHash('sha256')
        .update(Buffer.from([0xc3, 0xa9]))
        .digest(),
    );
  });
});
