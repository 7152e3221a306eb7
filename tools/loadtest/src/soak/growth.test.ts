import { describe, expect, it } from '@jest/globals';
import { growthPast, MIN_JUDGED_SAMPLES } from './growth.js';

describe('growthPast (the soak judging its memory samples)', () => {
  it('finds a steady leak after the warm-up', () => {
    // 200 MiB, then 4 MiB more a sample: 30 samples, as in a 30-minute soak sampled each minute.
    const leaking = Array.from({ length: 30 }, (_, i) => 200 + 4 * i);
    expect(growthPast(leaking, 32)).toEqual({ from: 200 + 4 * 14.5, to: 200 + 4 * 24.5 });
  });

  it('passes a process that grows during the warm-up, then holds', () => {
    // The flusher that settled from 155 to 200 MiB in its first 14 minutes (docs/reliability.md).
    const settling = [
      155, 159, 170, 180, 191, 195, 199, 199, 200, 200, 200, 200, 201, 200, 200, 200, 201, 200,
    ];
    expect(growthPast(settling, 32)).toBeUndefined();
  });

  it('passes noise and a spike that comes back down', () => {
    const noisy = [238, 256, 276, 255, 246, 290, 251, 244, 260, 249, 252];
    expect(growthPast(noisy, 32)).toBeUndefined();
    // The later medians are 50 MiB up, but one later sample is back below an earlier one.
    const heapSteps = [200, 200, 200, 200, 200, 240, 200, 250, 205, 250, 250];
    expect(growthPast(heapSteps, 32)).toBeUndefined();
  });

  it('passes a rise below what is allowed, even a steady one', () => {
    const slow = Array.from({ length: 30 }, (_, i) => 200 + i * 0.5);
    expect(growthPast(slow, 32)).toBeUndefined();
  });

  it('says nothing of too few samples', () => {
    const few = Array.from({ length: MIN_JUDGED_SAMPLES - 1 }, (_, i) => 100 * (i + 1));
    expect(growthPast(few, 32)).toBeUndefined();
    const enough = Array.from({ length: MIN_JUDGED_SAMPLES }, (_, i) => 100 * (i + 1));
    expect(growthPast(enough, 32)).toBeDefined();
  });
});
