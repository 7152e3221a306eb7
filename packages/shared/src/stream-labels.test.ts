import { describe, expect, it } from '@jest/globals';
import { streamLabeler } from './stream-labels.js';

describe('streamLabeler', () => {
  it('gives the first streams their own label and the rest one shared label, so clients cannot grow the metrics', () => {
    const label = streamLabeler(2);
    expect(['a', 'b', 'c', 'a', 'd', 'b'].map(label)).toEqual(['a', 'b', '_other', 'a', '_other', 'b']);
  });
});
