import { describe, expect, it } from '@jest/globals';
import { Counter, Histogram, Registry } from 'prom-client';
import { removeStreamSeries, streamLabeler } from './stream-labels.js';

describe('streamLabeler', () => {
  it('gives the first streams their own label and the rest one shared label, so clients cannot grow the metrics', () => {
    const label = streamLabeler({ max: 2 });
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
    const label = streamLabeler({ max: 2 });
    expect(label('junk', false)).toBe('_other');
    expect(label('a')).toBe('a');
    expect(label('a', false)).toBe('a');
    expect(label('b')).toBe('b');
  });

  it('gives a new stream the label of the stream counted least recently once that one has been idle long enough, telling whose it was', () => {
    let now = 0;
    const freed: string[] = [];
    const label = streamLabeler({
      max: 2,
      idleAfterMs: 1_000,
      onFree: (stream) => freed.push(stream),
      now: () => now,
    });
    expect([label('a'), label('b')]).toEqual(['a', 'b']);
    now = 600;
    expect(label('a')).toBe('a');
    // Neither idle long enough yet (b for 999 ms).
    now = 999;
    expect(label('c')).toBe('_other');
    now = 1_000;
    expect(label('c')).toBe('c');
    expect(freed).toEqual(['b']);
    // a was counted at 600: idle 400 ms, so it keeps its label, and b, back, shares _other.
    expect([label('b'), label('a')]).toEqual(['_other', 'a']);
    // Asked without a claim, an idle label is not taken.
    now = 5_000;
    expect(label('d', false)).toBe('_other');
    expect(freed).toEqual(['b']);
  });

  it('never frees a label without an idle time', () => {
    let now = 0;
    const label = streamLabeler({ max: 1, now: () => now });
    label('a');
    now = 1e12;
    expect(label('b')).toBe('_other');
  });
});

describe('removeStreamSeries', () => {
  it('removes every series of one stream, whatever its other labels, and leaves the rest', async () => {
    const registry = new Registry();
    const events = new Counter({
      name: 'e',
      help: 'e',
      labelNames: ['stream', 'outcome'],
      registers: [registry],
    });
    const seconds = new Histogram({
      name: 's',
      help: 's',
      labelNames: ['stream'],
      buckets: [1],
      registers: [registry],
    });
    const requests = new Counter({ name: 'r', help: 'r', labelNames: ['status'], registers: [registry] });
    events.inc({ stream: 'gone', outcome: 'accepted' });
    events.inc({ stream: 'gone', outcome: 'rejected' });
    events.inc({ stream: 'kept', outcome: 'accepted' });
    seconds.observe({ stream: 'gone' }, 0.5);
    seconds.observe({ stream: 'kept' }, 0.5);
    requests.inc({ status: 'gone' });
    await removeStreamSeries(registry, 'gone', streamLabeler());
    const text = await registry.metrics();
    expect(text).not.toContain('stream="gone"');
    expect(text).toContain('e{stream="kept",outcome="accepted"} 1');
    expect(text).toContain('s_count{stream="kept"} 1');
    expect(text).toContain('r{status="gone"} 1');
  });

  it('keeps the series of a stream that holds a label again when they are read: freed and taken back in one turn, it kept counting in them', async () => {
    const registry = new Registry();
    const events = new Counter({ name: 'e', help: 'e', labelNames: ['stream'], registers: [registry] });
    let now = 0;
    const label = streamLabeler({ max: 1, idleAfterMs: 10, now: () => now, registry });
    events.inc({ stream: label('x') }, 100);
    now = 10;
    events.inc({ stream: label('y') }, 1);
    now = 20;
    events.inc({ stream: label('x') }, 7);
    await new Promise((resolve) => setImmediate(resolve));
    const text = await registry.metrics();
    expect(text).toContain('e{stream="x"} 107');
    expect(text).not.toContain('stream="y"');
  });
});
