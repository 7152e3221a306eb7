import type { JobsOptions } from 'bullmq';

/** The BullMQ queue flush jobs go through (its prefix comes from keys.ts: `queuePrefix`). */
export const FLUSH_QUEUE = 'flush';
export const FLUSH_JOB = 'flush';

/** The backoff strategy the flusher registers: exponential, capped (see flushBackoffDelay). */
export const FLUSH_BACKOFF = 'spool-capped-exponential';

export interface FlushJobData {
  stream: string;
  gen: number;
}

/**
 * The deterministic job id of a generation's flush: adding it twice is a no-op, so the crossing
 * append, the sweep and a retry after a crash can never double a job. (BullMQ refuses `:` in
 * custom ids, hence `@`.)
 */
export function flushJobId(stream: string, gen: number): string {
  return `${stream}@${gen}`;
}

export function parseFlushJobId(id: string): FlushJobData | undefined {
  const match = /^([a-z0-9][a-z0-9_-]{0,63})@(\d+)$/.exec(id);
  if (!match?.[1] || !match[2]) return undefined;
  return { stream: match[1], gen: Number(match[2]) };
}

/**
 * Flush jobs never give up for good: a generation that keeps failing stays sealed and is retried
 * with a capped exponential backoff until S3 takes it.
 */
export const FLUSH_JOB_OPTIONS: Readonly<JobsOptions> = Object.freeze({
  attempts: Number.MAX_SAFE_INTEGER,
  backoff: { type: FLUSH_BACKOFF },
  // Completed ids are removed at once so the same id can be added again later (the sweep may
  // need to); failed ones (only UnrecoverableError fails a flush for good) stay for inspection.
  removeOnComplete: true,
  removeOnFail: { count: 1000 },
});

/** Delay before retry number `attemptsMade` (1-based): base, 2 × base, 4 × base, … capped. */
export function flushBackoffDelay(attemptsMade: number, baseMs = 1_000, capMs = 5 * 60_000): number {
  const exponent = Math.min(Math.max(attemptsMade - 1, 0), 30);
  return Math.min(baseMs * 2 ** exponent, capMs);
}
