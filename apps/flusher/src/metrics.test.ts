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
});
