import { describe, expect, it } from '@jest/globals';
import { createWriteKeyCheck, presentedKey } from './auth.js';

describe('presentedKey', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer   abc', 'abc'],
    [`Basic ${Buffer.from('abc:').toString('base64')}`, 'abc'],
    [`Basic ${Buffer.from('abc').toString('base64')}`, 'abc'],
    [`Basic ${Buffer.from(':pw').toString('base64')}`, undefined],
    ['Bearer', undefined],
    ['Token abc', undefined],
    [undefined, undefined],
  ])('reads %p as %p', (header, key) => {
    expect(presentedKey(header)).toBe(key);
  });
});

describe('createWriteKeyCheck', () => {
  const check = createWriteKeyCheck([
    { key: 'key-for-web', streams: new Set(['web']) },
    { key: 'key-for-all', streams: '*' },
  ]);

  it('is open when no keys are configured', () => {
    expect(createWriteKeyCheck([])(undefined, 'any')).toEqual({ ok: true });
  });

  it('tells a missing or unknown key (401) from a key not allowed on the stream (403)', () => {
    expect(check(undefined, 'web')).toMatchObject({ ok: false, status: 401 });
    expect(check('Bearer key-for-wex', 'web')).toMatchObject({ ok: false, status: 401 });
    expect(check('Bearer key-for-web', 'ios')).toMatchObject({ ok: false, status: 403 });
    expect(check('Bearer key-for-web', 'web')).toEqual({ ok: true });
    expect(check('Bearer key-for-all', 'ios')).toEqual({ ok: true });
  });
});
