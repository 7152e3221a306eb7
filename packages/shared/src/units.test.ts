import { describe, expect, it } from '@jest/globals';
import { parseDuration, parseSize } from './units.js';

describe('parseSize', () => {
  it.each([
    ['1048576', 1048576],
    ['512KiB', 512 * 1024],
    ['32MiB', 32 * 1024 * 1024],
    ['1GB', 1e9],
    ['1.5kb', 1500],
    [' 10 b ', 10],
  ])('reads %s as %d bytes', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'MiB', '-1', '12 parsecs', '1e3', '0x10', '0.4b'])('refuses %p', (text) => {
    expect(parseSize(text)).toBeUndefined();
  });
});

describe('parseDuration', () => {
  it.each([
    ['250', 250],
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  // A non-zero amount that rounds to 0 (0 turns dedupe off, and other things): refused.
  it.each(['soon', '5 minutes', '-5s', '', '0.4ms', '0.0004s'])('refuses %p', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it.each(['0', '0ms', '0.0s'])('reads %p as 0', (text) => {
    expect(parseDuration(text)).toBe(0);
  });
});
