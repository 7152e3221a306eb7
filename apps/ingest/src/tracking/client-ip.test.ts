import { describe, expect, it } from '@jest/globals';
import { requestIpPolicy, storedIp, truncateIp } from './client-ip.js';

describe('truncateIp', () => {
  it.each([
    ['203.0.113.77', '203.0.113.0'],
    ['2001:db8:85a3:8d3:1319:8a2e:370:7348', '2001:db8:85a3::'],
    ['::ffff:198.51.100.9', '198.51.100.0'],
    ['::1', '::'],
    ['::ffff:c633:6409', '198.51.100.0'],
    ['fe80::1%eth0', 'fe80::'],
    ['fe80::1%br-lan', 'fe80::'],
    ['::ffff:192.0.2.1%x.y', '192.0.2.0'],
    // 6to4: the site's IPv4 address is bits 16 to 47; its last octet goes, as the IPv4 one's would.
    ['2002:c000:0237::1', '2002:c000:200::'],
  ])('zeroes the host part of %s', (ip, truncated) => {
    expect(truncateIp(ip)).toBe(truncated);
  });

  it('stores nothing for text that is not an address', () => {
    expect(truncateIp('not an ip')).toBeUndefined();
    expect(truncateIp('999.1.1.1')).toBeUndefined();
    // inet_aton's forms, which ipaddr.js reads: octal (8.8.8.8 here), one number, hex, short.
    for (const legacy of ['010.010.010.010', '3232235777', '0x7f.1', '1.2.3', '1.2.3.04']) {
      expect({ legacy, truncated: truncateIp(legacy) }).toEqual({ legacy, truncated: undefined });
    }
  });
});

describe('storedIp', () => {
  it('keeps, truncates or drops as IP_POLICY says', () => {
    expect(storedIp('203.0.113.77', 'keep')).toBe('203.0.113.77');
    expect(storedIp('203.0.113.77', 'truncate')).toBe('203.0.113.0');
    expect(storedIp('203.0.113.77', 'drop')).toBeUndefined();
    expect(storedIp(42, 'keep')).toBeUndefined();
  });
});

describe('requestIpPolicy', () => {
  it("takes the stricter of IP_POLICY and the client's X-IP-Policy: a client may ask to store less, never more", () => {
    expect(requestIpPolicy('keep', undefined)).toBe('keep');
    expect(requestIpPolicy('keep', 'stripLastOctet')).toBe('truncate');
    expect(requestIpPolicy('keep', 'remove')).toBe('drop');
    expect(requestIpPolicy('truncate', 'REMOVE')).toBe('drop');
    expect(requestIpPolicy('truncate', 'keep')).toBe('truncate');
    expect(requestIpPolicy('drop', 'stripLastOctet')).toBe('drop');
    expect(requestIpPolicy('drop', 'keep')).toBe('drop');
  });

  it('reads any other value, a repeated header or an empty one, as asking nothing', () => {
    expect(requestIpPolicy('keep', 'strict')).toBe('keep');
    expect(requestIpPolicy('keep', '')).toBe('keep');
    expect(requestIpPolicy('keep', ['remove', 'remove'])).toBe('keep');
    expect(requestIpPolicy('keep', '__proto__')).toBe('keep');
    expect(requestIpPolicy('truncate', 'constructor')).toBe('truncate');
  });
});
