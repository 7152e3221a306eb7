/** How long one read of Redis or of the status may take: a Redis that never answers must not hold a command. */
export const READ_TIMEOUT_MS = 10_000;

/** How often a deadline looks at the work's progress. */
const LOOK_EVERY_MS = 1_000;

/**
 * `work`'s result, or undefined once `signal` stops the command; rejects, naming `source`, once
 * `ms` pass with no progress: a Redis that never answers must not hold the command. `progress`,
 * where given, counts what the work has done so far (undefined while it has none under way): a
 * reading of 150,000 streams took 11 s, moving all along, and `spool status --redis` said Redis
 * did not answer within 10 s, every time it was run (a review's run).
 */
export function withinDeadline<T>(
  work: Promise<T>,
  options: { ms: number; signal: AbortSignal; source: string; progress?: () => number | undefined },
): Promise<T | undefined> {
  const { ms, signal, source, progress } = options;
  return new Promise((resolve, reject) => {
    let seen = progress?.();
    let movedAt = performance.now();
    const timer = setInterval(
      () => {
        const done = progress?.();
        if (done !== undefined && done !== seen) {
          seen = done;
          movedAt = performance.now();
        }
        if (performance.now() - movedAt >= ms)
          reject(new Error(`${source} did not answer within ${ms / 1000} s`));
      },
      Math.min(ms, LOOK_EVERY_MS),
    );
    const stop = () => resolve(undefined);
    signal.addEventListener('abort', stop, { once: true });
    work.then(resolve, reject).finally(() => {
      clearInterval(timer);
      signal.removeEventListener('abort', stop);
    });
  });
}
