/**
 * Whether a soak's samples of one measure (a process's RSS, Redis's memory, its other keys) kept
 * growing. The first third of the run is warm-up (V8 grows its heap to the load, then holds) and
 * is not judged; the rest is split in two halves. A measure grew when its later half lies wholly
 * above its earlier half (every later sample above every earlier one: noise and a spike that
 * comes back down seldom do that, a leak does) and its median rose by more than `allowed`.
 */
export interface Growth {
  /** Median of the earlier half after warm-up. */
  from: number;
  /** Median of the later half. */
  to: number;
}

/** Samples needed for a judgement: two in each half after a warm-up of a third. */
export const MIN_JUDGED_SAMPLES = 6;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** The growth of `samples` past `allowed`, or undefined (flat, or too few samples to say). */
export function growthPast(samples: number[], allowed: number): Growth | undefined {
  if (samples.length < MIN_JUDGED_SAMPLES) return undefined;
  const judged = samples.slice(Math.floor(samples.length / 3));
  const half = Math.floor(judged.length / 2);
  const earlier = judged.slice(0, half);
  const later = judged.slice(half);
  const from = median(earlier);
  const to = median(later);
  const wholly = Math.min(...later) > Math.max(...earlier);
  return wholly && to - from > allowed ? { from, to } : undefined;
}
