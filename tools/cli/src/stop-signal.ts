/**
 * Stops on Ctrl-C (or SIGTERM, or a closed pipe): the signal every loop checks. `stopping`, when
 * given, is said on stderr as the signal is seen: a command that finishes its work in hand first
 * says so, rather than seem to ignore the key (a second Ctrl-C is not caught: it stops at once).
 */
export function stopSignal(stopping?: string): AbortSignal {
  const controller = new AbortController();
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const onSignal = () => {
    // Both let go: a second signal, whichever, takes its default action (SIGTERM, then Ctrl-C).
    for (const signal of signals) process.off(signal, onSignal);
    // On a terminal, below the progress line rather than on its end.
    if (stopping) process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}${stopping}\n`);
    controller.abort();
  };
  for (const signal of signals) process.on(signal, onSignal);
  process.stdout.on('error', () => controller.abort()); // EPIPE: `spool tail web | head`
  return controller.signal;
}

/** Resolves after `ms`, or at once when stopped. */
export const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * Resolves once stdout takes more, or once stopped: a pipe whose reader is gone (`| head`) never
 * drains, and waiting for it held the process for good, Ctrl-C and SIGTERM included.
 */
export function drained(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      process.stdout.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    process.stdout.once('drain', done);
    signal.addEventListener('abort', done);
  });
}
