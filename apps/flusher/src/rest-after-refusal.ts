import type { Worker } from 'bullmq';

/** How long a flush worker waits to ask Redis again after Redis refused it. */
export const REFUSAL_REST_MS = 1_000;

export interface Rest {
  /** Whether the worker is paused for a rest now (its loop stopped on purpose, not dead). */
  resting(): boolean;
}

/**
 * Pauses `worker` for `ms` after each error it reports, then resumes it. BullMQ waits before
 * asking again only after a lost connection: refused instead (OOM at `maxmemory`, MISCONF,
 * READONLY), its worker asked for the next waiting job again at once: one flusher with 5 jobs
 * waiting sent Redis some 12,600 commands a second at 60 % of a core, on a Redis already in
 * trouble (bench/analysis/refused-worker.mjs). Jobs in hand go on; only the next fetch waits.
 */
export function restAfterRefusals(worker: Worker, ms = REFUSAL_REST_MS): Rest {
  let timer: NodeJS.Timeout | undefined;
  worker.on('error', () => {
    if (timer !== undefined || worker.closing) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (!worker.closing) worker.resume().catch(() => {});
    }, ms);
    timer.unref();
    worker.pause(true).catch(() => {});
  });
  worker.once('closing', () => {
    clearTimeout(timer);
    timer = undefined;
  });
  return { resting: () => timer !== undefined };
}
