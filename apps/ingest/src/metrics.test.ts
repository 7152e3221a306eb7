import { describe, expect, it } from '@jest/globals';
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
});
