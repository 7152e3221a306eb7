import { describe, expect, it } from '@jest/globals';
import { parseIsoTime } from '@spool/shared';
import fc from 'fast-check';
import { formatIso, isoTime, parseClientTime, parseIso } from './iso-time.js';

// Every time JavaScript can write, weighted towards this era (where the fast paths are).
const anyMs = fc.oneof(
  fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2100, 0, 1) }),
  fc.integer({ min: -8.64e15, max: 8.64e15 }),
);
const twoDigits = fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, '0'));

describe('formatIso', () => {
  it('writes what toISOString writes, for any time', () => {
    fc.assert(
      fc.property(anyMs, (ms) => {
        expect(formatIso(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 20_000 },
    );
  });

  it('crosses days, years and the edges of its fast path', () => {
    for (const ms of [
      0,
      -1,
      1,
      86_399_999,
      86_400_000,
      Date.UTC(2024, 1, 29, 23, 59, 59, 999),
      253_402_300_799_999,
      253_402_300_800_000,
    ]) {
      expect(formatIso(ms)).toBe(new Date(ms).toISOString());
    }
  });

  it('isoTime is toISOString', () => {
    const date = new Date();
    expect(isoTime(date)).toBe(date.toISOString());
    expect(isoTime(new Date(date.getTime() + 1))).toBe(new Date(date.getTime() + 1).toISOString());
  });
});

describe('parseIso', () => {
  it('reads back any time toISOString writes', () => {
    fc.assert(
      fc.property(anyMs, (ms) => {
        expect(parseIso(new Date(ms).toISOString())).toBe(ms);
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees with Date.parse on strings shaped like an ISO time with any digits (Feb 30, hour 24, minute 60)', () => {
    const shaped = fc
      .tuple(
        fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
        twoDigits,
        twoDigits,
        twoDigits,
        twoDigits,
        twoDigits,
        fc.integer({ min: 0, max: 999 }).map((n) => String(n).padStart(3, '0')),
      )
      .map(([y, mo, d, h, mi, s, ms]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
    fc.assert(
      fc.property(shaped, (text) => {
        expect(Object.is(parseIso(text), Date.parse(text))).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees with Date.parse on anything else', () => {
    const others = [
      '',
      'yesterday',
      '2026-12-01',
      '2026-12-01T10:00:00Z',
      '2026-12-01T10:00:00.000+02:00',
      '2026-12-01T10:00:00.000z',
      '2026/12/01T10:00:00.000Z',
      '2026-12-01 10:00:00.000Z',
      '+02026-12-01T10:00:00.000Z',
      '２０２６-12-01T10:00:00.000Z',
      '2026-12-01T1a:00:00.000Z',
      '2026-12-01T-1:00:00.000Z',
    ];
    for (const text of others) expect(Object.is(parseIso(text), Date.parse(text))).toBe(true);
    fc.assert(
      fc.property(fc.string({ minLength: 24, maxLength: 24 }), (text) => {
        expect(Object.is(parseIso(text), Date.parse(text))).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });

  it('keeps no day from a previous string that does not share it', () => {
    expect(parseIso('2026-12-01T10:00:00.000Z')).toBe(Date.UTC(2026, 11, 1, 10));
    expect(parseIso('2026-12-02T10:00:00.000Z')).toBe(Date.UTC(2026, 11, 2, 10));
    expect(parseIso('2026-12-01T10:00:00.000Z')).toBe(Date.UTC(2026, 11, 1, 10));
  });
});

describe('parseClientTime', () => {
  it("is parseIsoTime for the SDKs' form with any digits in it, the one grammar the flusher reads", () => {
    const digits = (count: number) =>
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: count, maxLength: count }).map((d) => d.join(''));
    const sdkShaped = fc
      .tuple(digits(4), digits(2), digits(2), digits(2), digits(2), digits(2), digits(3))
      .map(([y, mo, d, h, mi, s, ms]) => `${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
    fc.assert(
      fc.property(sdkShaped, (text) => {
        expect({ text, ms: parseClientTime(text) }).toEqual({ text, ms: parseIsoTime(text) });
      }),
      { numRuns: 20_000 },
    );
    expect(parseClientTime('0000-06-01T12:00:00.000Z')).toBeNaN();
  });

  it('is parseIso for every date that exists, and NaN for one that does not', () => {
    const shaped = fc
      .tuple(
        fc.integer({ min: 1, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 31 }),
        fc.integer({ min: 0, max: 86_399_999 }),
      )
      .map(([year, month, day, msOfDay]) => ({
        year,
        month,
        day,
        text: `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}T${new Date(msOfDay).toISOString().slice(11)}`,
      }));
    fc.assert(
      fc.property(shaped, ({ year, month, day, text }) => {
        // The reference: a date exists when Date.UTC gives back the same day of the same month.
        const date = new Date(Date.UTC(2000, month - 1, day));
        date.setUTCFullYear(year, month - 1, day);
        const exists = date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
        expect(Object.is(parseClientTime(text), exists ? parseIso(text) : Number.NaN)).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });
});
