import { closeSync, openSync } from 'node:fs';

/** How often the controlling terminal is looked for while nothing is printed. */
const CHECK_EVERY_MS = 1_000;

/** Whether this process still has its controlling terminal: after a hang-up, /dev/tty is ENXIO. */
function hasTerminal(): boolean {
  try {
    closeSync(openSync('/dev/tty', 'r'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Calls `onGone` once this process's terminal goes (its window closed, its ssh dropped), or its
 * output can no longer be written (EIO, EPIPE). SIGHUP alone does not tell: the kernel sends it
 * to the session's leader, and when that is `make` (a window that runs `make dev` itself, `tmux
 * new 'make dev'`, `ssh -t host make dev`) make waits for its child and never passes it on. The
 * child then learned of it only from its next write to the terminal, which threw (an unhandled
 * EIO) and left Redis running. Opening /dev/tty never stops a background job (reading it would:
 * SIGTTIN), so `make dev &` is unaffected.
 */
export function onTerminalGone(onGone: () => void): void {
  let gone = false;
  const once = () => {
    if (gone) return;
    gone = true;
    clearInterval(watch);
    // Whatever is still printed (the shutdown's own lines) must not stop the shutdown.
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
    onGone();
  };
  process.on('SIGHUP', once);
  for (const stream of [process.stdout, process.stderr]) stream.once('error', once);
  const watch = hasTerminal()
    ? setInterval(() => {
        if (!hasTerminal()) once();
      }, CHECK_EVERY_MS).unref()
    : undefined;
}
