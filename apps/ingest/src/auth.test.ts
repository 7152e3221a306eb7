import { describe, expect, it } from '@jest/globals';
import { presentedKey } from '@spool/shared';
import { addressBucket, createWriteKeyCheck, queryKey, rateLimitIdentity, writeKeyVerifier } from './auth.js';

describe('presentedKey', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer   abc', 'abc'],
    // A key with a run of spaces inside, as ADMIN_KEYS and WRITE_KEYS allow: kept whole.
    ['Bearer two  spaces-0123456789 ', 'two  spaces-0123456789'],
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

describe('queryKey', () => {
  it.each([
    ['/beacon/v1/batch?writeKey=b64+key/0003=', 'b64+key/0003='],
    ['/sourceConfig/?p=1&writeKey=b64%2Bkey%2F0003%3D&x', 'b64+key/0003='],
    ['/b?writeKey=100%-sure', '100%-sure'],
    ['/b?writeKey=', ''],
    ['/b?write%4Bey=k%2B1+2', 'k+1+2'],
    // A parameter with no `=` is no key, nor a second one.
    ['/b?writeKey=k&writeKeyZ', 'k'],
  ])('reads %s as %p: a + is itself, an escape is decoded, text that is none kept', (url, key) => {
    expect(queryKey(url)).toBe(key);
  });

  it.each([
    ['/b'],
    ['/b?writekey=k'],
    ['/b?writeKey=a&writeKey=a'],
    ['/b?xwriteKey=k'],
    ['/b?writeKeyX'],
    // The router's query begins at a '#' too: this one's only parameter is `x`.
    ['/b#x=1?writeKey=k'],
  ])('finds none in %s (a repeated one is none)', (url) => {
    expect(queryKey(url)).toBeUndefined();
  });
});

describe('createWriteKeyCheck', () => {
  const check = createWriteKeyCheck(
    writeKeyVerifier([
      { key: 'key-for-web', streams: new Set(['web']) },
      { key: 'key-for-all', streams: '*' },
    ]),
  );

  it('is open when no keys are configured, and then names no key whatever is presented', () => {
    expect(createWriteKeyCheck(writeKeyVerifier([]))(undefined, 'any')).toEqual({ ok: true });
    expect(createWriteKeyCheck(writeKeyVerifier([]))('Bearer made-up-key', 'any')).toEqual({ ok: true });
  });

  it('tells a missing or unknown key (401) from a key not allowed on the stream (403)', () => {
    expect(check(undefined, 'web')).toMatchObject({ ok: false, status: 401 });
    expect(check('Bearer key-for-wex', 'web')).toMatchObject({ ok: false, status: 401 });
    expect(check('Bearer key-for-web', 'ios')).toMatchObject({ ok: false, status: 403 });
    expect(check('Bearer key-for-web', 'web')).toMatchObject({ ok: true });
    expect(check('Bearer key-for-all', 'ios')).toMatchObject({ ok: true });
  });
});

describe('writeKeyVerifier', () => {
  it("names a key's first stream in WRITE_KEYS (the tracking API's), however many it may write to; none for a * key", () => {
    const streams = new Set(['web', ...Array.from({ length: 10_000 }, (_, index) => `s${index}`)]);
    const { verify } = writeKeyVerifier([
      { key: 'key-for-many', streams },
      { key: 'key-for-all', streams: '*' },
    ]);
    expect(verify('key-for-many')).toMatchObject({ firstStream: 'web', streams });
    expect(verify('key-for-all')).toMatchObject({ firstStream: undefined, streams: '*' });
  });
});

describe('writeKeyVerifier.replace', () => {
  it('puts the new keys in use on every check made with it, and never opens a keyed service', () => {
    const keys = writeKeyVerifier([{ key: 'key-old-0001', streams: '*' }]);
    const check = createWriteKeyCheck(keys);
    expect(check('Bearer key-old-0001', 'web')).toMatchObject({ ok: true });
    keys.replace([{ key: 'key-new-0001', streams: new Set(['web']) }]);
    expect(check('Bearer key-old-0001', 'web')).toMatchObject({ ok: false, status: 401 });
    expect(check('Bearer key-new-0001', 'web')).toMatchObject({ ok: true });
    expect(keys.verify('key-new-0001')?.firstStream).toBe('web');
    keys.replace([]);
    expect(keys.open).toBe(false);
    expect(check('Bearer key-new-0001', 'web')).toMatchObject({ ok: true });
    expect(check('Bearer anything-at-all', 'web')).toMatchObject({ ok: false, status: 401 });
  });
});

describe('rateLimitIdentity', () => {
  const check = createWriteKeyCheck(writeKeyVerifier([{ key: 'key-for-web', streams: new Set(['web']) }]));

  it('is the verified key, the same however it was sent, and never the key itself', () => {
    const bearer = rateLimitIdentity(check('Bearer key-for-web', 'web'), '10.0.0.1');
    const basic = rateLimitIdentity(
      check(`Basic ${Buffer.from('key-for-web:').toString('base64')}`, 'web'),
      '10.0.0.2',
    );
    expect(bearer).toMatch(/^key:/);
    expect(basic).toBe(bearer);
    expect(bearer).not.toContain('key-for-web');
    // Not allowed on this stream, but verified: still the key's own bucket.
    expect(rateLimitIdentity(check('Bearer key-for-web', 'ios'), '10.0.0.1')).toBe(bearer);
  });

  it('counts an IPv4 address however it is written, and an IPv6 address by its /64', () => {
    for (const ip of ['192.0.2.7', '::ffff:192.0.2.7', '::ffff:c000:207', '0:0:0:0:0:ffff:c000:0207']) {
      expect(addressBucket(ip)).toBe('192.0.2.7');
    }
    const site = [
      '2001:db8:1:2::1',
      '2001:db8:1:2::8',
      '2001:0db8:0001:0002:ffff:ffff:ffff:ffff',
      '2001:db8:1:2::7%eth0',
    ];
    expect(new Set(site.map(addressBucket))).toEqual(new Set(['2001:db8:1:2::/64']));
    expect(addressBucket('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(addressBucket('::1')).toBe('0:0:0:0::/64');
    expect(rateLimitIdentity(undefined, '2001:db8:1:2::99')).toBe('ip:2001:db8:1:2::/64');
  });

  it('is the client address for an unknown, missing or unverifiable key', () => {
    expect(rateLimitIdentity(check('Bearer guess-1234', 'web'), '10.0.0.1')).toBe('ip:10.0.0.1');
    expect(rateLimitIdentity(check(undefined, 'web'), '10.0.0.1')).toBe('ip:10.0.0.1');
    expect(
      rateLimitIdentity(createWriteKeyCheck(writeKeyVerifier([]))('Bearer random-1', 'web'), '10.0.0.3'),
    ).toBe('ip:10.0.0.3');
  });
});
