import { describe, expect, it } from '@jest/globals';
import { clientAddress } from './client-address.js';

describe('clientAddress', () => {
  it.each([
    ['203.0.113.5', '203.0.113.5'],
    ['203.0.113.5:40001', '203.0.113.5'],
    ['2001:db8::7', '2001:db8::7'],
    ['[2001:db8::7]:443', '2001:db8::7'],
    ['[2001:db8::7]', '2001:db8::7'],
    ['::ffff:203.0.113.5', '::ffff:203.0.113.5'],
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
