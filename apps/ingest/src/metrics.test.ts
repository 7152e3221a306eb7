import { describe, expect, it, jest } from '@jest/globals';
import { createIngestMetrics } from './metrics.js';

describe('ingest metrics', () => {
  it('counts requests by API and status, and events by stream and outcome', async () => {
    const metrics = createIngestMetrics();
    metrics.countRequest('tracking', 200);
    metrics.countRequest('tracking', 200);
    metrics.countRequest('native', 503);
    metrics.countEvents('web', { accepted: 2, duplicates: 1, rejected: 3 });
    metrics.countEvents('web', { accepted: 5 });
    metrics.countEvents('web', { rejected: 0 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('spool_ingest_requests_total{api="tracking",status="200"} 2');
    expect(text).toContain('spool_ingest_requests_total{api="native",status="503"} 1');
    expect(text).toContain('spool_ingest_events_total{stream="web",outcome="accepted"} 7');
    expect(text).toContain('spool_ingest_events_total{stream="web",outcome="duplicate"} 1');
    expect(text).toContain('spool_ingest_events_total{stream="web",outcome="rejected"} 3');
  });

  it('counts streams past the label cap under _other', async () => {
    const metrics = createIngestMetrics();
    for (let i = 0; i < 1_001; i++) metrics.countEvents(`s-${i}`, { accepted: 1 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('spool_ingest_events_total{stream="_other",outcome="accepted"} 1');
    expect(text).toContain('spool_ingest_events_total{stream="s-999",outcome="accepted"} 1');
  });

  it('gives no label of its own to a stream whose events were all refused: made-up streams cannot take them all', async () => {
    const metrics = createIngestMetrics();
    for (let i = 0; i < 1_000; i++) metrics.countEvents(`junk-${i}`, { rejected: 1 });
    metrics.countEvents('web', { accepted: 1, rejected: 1 });
    metrics.countEvents('web', { rejected: 2 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('spool_ingest_events_total{stream="_other",outcome="rejected"} 1000');
    expect(text).toContain('spool_ingest_events_total{stream="web",outcome="accepted"} 1');
    expect(text).toContain('spool_ingest_events_total{stream="web",outcome="rejected"} 3');
  });

  it('gives the label of a stream idle past streamIdleAfterMs to a new one, its series removed: a churn of names no longer leaves later streams under _other for good', async () => {
    jest.useFakeTimers({ now: 0 });
    try {
      const metrics = createIngestMetrics({ streamIdleAfterMs: 60_000 });
      for (let i = 0; i < 1_000; i++) metrics.countEvents(`old-${i}`, { accepted: 1 });
      metrics.bytes.inc({ stream: metrics.streamLabel('old-0') }, 10);
      jest.advanceTimersByTime(30_000);
      for (let i = 1; i < 1_000; i++) metrics.countEvents(`old-${i}`, { accepted: 1 });
      // None idle for a minute yet.
      metrics.countEvents('early', { accepted: 1 });
      jest.advanceTimersByTime(30_000);
      metrics.countEvents('new', { accepted: 1 });
      // old-0 again: its label went to `new`; the next idlest has been counted within the minute.
      metrics.countEvents('old-0', { accepted: 1 });
      jest.useRealTimers();
      await new Promise((resolve) => setImmediate(resolve));
      const text = await metrics.registry.metrics();
      expect(text).toContain('spool_ingest_events_total{stream="new",outcome="accepted"} 1');
      expect(text).toContain('spool_ingest_events_total{stream="_other",outcome="accepted"} 2');
      expect(text).toContain('spool_ingest_events_total{stream="old-1",outcome="accepted"} 2');
      expect(text).not.toContain('stream="old-0"');
      expect(text).not.toContain('stream="early"');
    } finally {
      jest.useRealTimers();
    }
  });
});
