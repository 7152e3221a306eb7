import { describe, expect, it } from '@jest/globals';
import { createFlusherMetrics } from './metrics.js';

describe('the flusher metrics', () => {
  it('drop the sweep gauges on reset, so a flusher that stopped sweeping reports no stale buffers', async () => {
    const metrics = createFlusherMetrics();
    metrics.oldestBufferAge.set(900);
    metrics.bufferBytes.set({ stream: 'web' }, 1_000);
    metrics.bufferFillRatio.set({ stream: 'web' }, 0.95);
    metrics.pendingGenerations.set({ stream: 'web' }, 3);
    expect(await metrics.registry.metrics()).toContain('spool_buffer_fill_ratio{stream="web"} 0.95');

    metrics.resetSweepGauges();
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('stream="web"');
    expect(text).toMatch(/^spool_oldest_buffer_age_seconds 0$/m);
  });

  it("drop Redis's health too once another flusher sweeps: a stale 1 kept SpoolRedisEvicting firing", async () => {
    const metrics = createFlusherMetrics();
    metrics.bufferBytes.set({ stream: 'web' }, 1_000);
    metrics.redisAtRisk.set({ reason: 'eviction' }, 1);
    metrics.resetSweepGauges();
    // A complete sweep whose INFO was refused leaves Redis's health as it was.
    expect(await metrics.registry.metrics()).toContain('spool_redis_at_risk{reason="eviction"} 1');

    metrics.forgetSweeps();
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('spool_redis_at_risk{');
    expect(text).not.toContain('stream="web"');
  });

  it.each([
    ['fails', () => Promise.reject(new Error('Reached the max retries per request limit'))],
    ['never answers', () => new Promise<Record<string, number>>(() => {})],
  ])(
    'answer a scrape while Redis %s, without the queue depth and with every other series',
    async (_, counts) => {
      const metrics = createFlusherMetrics(counts);
      metrics.sweeps.inc({ outcome: 'failed' });
      const text = await metrics.registry.metrics();
      expect(text).toContain('spool_sweep_ticks_total{outcome="failed"} 1');
      expect(text).not.toMatch(/spool_queue_jobs\{/);
    },
  );

  it('report the queue depth when Redis answers', async () => {
    const metrics = createFlusherMetrics(async () => ({ waiting: 3, active: 1 }));
    const text = await metrics.registry.metrics();
    expect(text).toContain('spool_queue_jobs{state="waiting"} 3');
    expect(text).toContain('spool_queue_jobs{state="active"} 1');
  });
});
