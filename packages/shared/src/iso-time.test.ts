import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseIsoTime } from './iso-time.js';

describe('parseIsoTime', () => {
  it('reads what toISOString writes, for the years 0001 to 9999, as Date.parse does', () => {
    fc.assert(
      fc.property(fc.integer({ min: -62_135_596_800_000, max: 253_402_300_799_999 }), (ms) => {
        expect(parseIsoTime(new Date(ms).toISOString())).toBe(ms);
      }),
      { numRuns: 5_000 },
    );
  });

  it.each([
    ['2026-12-03T13:00:00', Date.UTC(2026, 11, 3, 13)],
    ['2026-12-03 13:00:00', Date.UTC(2026, 11, 3, 13)],
    ['2026-12-03T13:00:00.1Z', Date.UTC(2026, 11, 3, 13, 0, 0, 100)],
    ['2026-12-03T13:00:00.123456789Z', Date.UTC(2026, 11, 3, 13, 0, 0, 123)],
    ['2026-12-03T13:00:00+01:00', Date.UTC(2026, 11, 3, 12)],
    ['2026-12-03T13:00:00-0530', Date.UTC(2026, 11, 3, 18, 30)],
    ['2026-12-03T13:00:00+05', Date.UTC(2026, 11, 3, 8)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    // A century is a leap year only when it divides by 400.
    ['2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
  ])('reads %s, a time without an offset as UTC', (text, ms) => {
    expect(parseIsoTime(text)).toBe(ms);
  });

  it.each([
    '42',
    'Dec 3',
    '12/03/2026',
    'Thu, 03 Dec 2026 13:00:00 GMT',
    '1764540000000',
    '2026-12-03',
    '2026-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '0000-01-01T00:00:00Z',
    '2026-11-30T24:00:00Z',
    '2026-11-30T23:60:00Z',
    '2026-11-30T22:00:00.Z',
    '2026-11-30T22:00:00.1234567890Z',
    '2026-11-30T22:00:00Zjunk',
    '2026-11-30T22:00:00+24:00',
    '2026-11-30T22:00:00+23:99',
    '2026-11-30T22:00:00+1',
    '+275760-09-13T00:00:00.000Z',
  ])('refuses %s', (text) => {
    expect(parseIsoTime(text)).toBeNaN();
  });
});
