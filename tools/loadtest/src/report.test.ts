import { describe, expect, it } from '@jest/globals';
import { bar, formatBytes, percentile } from './report.js';

describe('report helpers', () => {
  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([], 99)).toBe(0);
  });

  it('draws a bar and sizes', () => {
    expect(bar(0.5, 10)).toBe('[#####-----]');
    expect(bar(2, 4)).toBe('[####]');
    expect(formatBytes(512_000_000)).toBe('512.0 MB');
  });
});
