import { describe, expect, it } from '@jest/globals';
import { streamLabeler } from './stream-labels.js';

describe('streamLabeler', () => {
  it('gives the first streams their own label and the rest one shared label, so clients cannot grow the metrics', () => {
    const label = streamLabeler(2);
    expect(['a', 'b', 'c', 'a', 'd', 'b'].map((stream) => label(stream))).toEqual([
      'a',
      'b',
      '_other',
      'a',
      '_other',
      'b',
    ]);
  });

  it('gives no label to a stream asked for without claiming one: it shares _other until it claims one', () => {
    const label = streamLabeler(2);
    expect(label('junk', false)).toBe('_other');
    expect(label('a')).toBe('a');
    expect(label('a', false)).toBe('a');
    expect(label('b')).toBe('b');
  });
});
