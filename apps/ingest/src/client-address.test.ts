import { describe, expect, it } from '@jest/globals';
import { clientAddress, requestAddress } from './client-address.js';

describe('clientAddress', () => {
  it.each([
    ['203.0.113.5', '203.0.113.5'],
    ['203.0.113.5:40001', '203.0.113.5'],
    ['2001:db8::7', '2001:db8::7'],
    ['[2001:db8::7]:443', '2001:db8::7'],
    ['[2001:db8::7]', '2001:db8::7'],
    // A dual-stack listener's IPv4 client, or a proxy's: the IPv4 address.
    ['::ffff:203.0.113.5', '203.0.113.5'],
    ['::FFFF:cb00:7105', '203.0.113.5'],
    ['0:0:0:0:0:ffff:cb00:7105', '203.0.113.5'],
    ['2001:db8:ffff::1', '2001:db8:ffff::1'],
    // Zones of any text (Node's isIP takes them; ipaddr.js threw on these): the IPv4 address.
    ['::ffff:203.0.113.5%-', '203.0.113.5'],
    ['[::ffff:203.0.113.5%eth0.100]:443', '203.0.113.5'],
    ['fe80::1%br-lan', 'fe80::1%br-lan'],
    ['[::ffff:203.0.113.5]:443', '203.0.113.5'],
    ['::ffff:0:203.0.113.5', '::ffff:0:203.0.113.5'],
  ])('reads %s as %s', (written, address) => {
    expect(clientAddress(written)).toBe(address);
  });

  it.each(['unknown', '999.1.1.1:80', '[not-an-address]:80', ''])(
    'leaves %j, which is no address, as it is',
    (text) => {
      expect(clientAddress(text)).toBe(text);
    },
  );
});

describe('requestAddress', () => {
  it("reads a request's address once (Fastify's getter parses X-Forwarded-For on each read), without its port", () => {
    let reads = 0;
    const request = {
      get ip() {
        reads += 1;
        return '[2001:db8::7]:443';
      },
    };
    expect([requestAddress(request), requestAddress(request), requestAddress(request)]).toEqual([
      '2001:db8::7',
      '2001:db8::7',
      '2001:db8::7',
    ]);
    expect(reads).toBe(1);
  });

  it('is none for a request with no address (its socket gone), and reads it again later', () => {
    const request: { ip?: string } = {};
    expect(requestAddress(request)).toBeUndefined();
    request.ip = '203.0.113.5';
    expect(requestAddress(request)).toBe('203.0.113.5');
  });
});
