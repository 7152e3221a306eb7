import { closeSync, openSync, readFileSync } from 'node:fs';

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
 * Whether the process that started this one ignores SIGHUP (`nohup make dev`): asked to outlive
 * its terminal. Node does not keep SIGHUP ignored for itself, so its parent (make) is asked.
 */
function hangupIgnored(): boolean {
  try {
    const mask = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${process.ppid}/status`, 'utf8'))?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & 1n) === 1n; // SIGHUP is signal 1
  } catch {
    return false;
  }
}

/** What this process prints where its terminal was fails from now on, and must not stop it. */
function ignoreOutputErrors(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
}

/**
 * Under `nohup make dev`, asked to outlive its terminal: this process and the Node processes it
 * starts afterwards (through NODE_OPTIONS) go on ignoring SIGHUP, and what it prints where the
 * terminal was may fail. Returns whether it was asked. Called before anything starts: the hang-up
 * reaches the whole process group when a shell leads the terminal's session (`nohup make dev`
 * typed at a prompt, the window then closed), and Node does not keep nohup's SIG_IGN.
 */
export function outliveTerminalIfAsked(): boolean {
  if (!hangupIgnored()) return false;
  process.on('SIGHUP', () => {});
  const ignoreHangup = new URL('./ignore-hangup.js', import.meta.url).href;
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${ignoreHangup}`.trim();
  ignoreOutputErrors();
  return true;
}

/**
 * Calls `onGone` once this process's terminal goes (its window closed, its ssh dropped), or what
 * it writes itself can no longer be written (EIO, EPIPE); not for a `nohup make dev`
 * (outliveTerminalIfAsked). SIGHUP alone does not tell: the kernel sends it to the session's
 * leader, and when that is `make` (a window that runs `make dev` itself, `tmux new 'make dev'`,
 * `ssh -t host make dev`) make waits for its child and never passes it on. The child then learned
 * of it only from its next write to the terminal, which threw (an unhandled EIO) and left Redis
 * running. Opening /dev/tty never stops a background job (reading it would: SIGTTIN), so
 * `make dev &` is unaffected.
 */
export function onTerminalGone(onGone: () => void): void {
  let gone = false;
  const once = () => {
    if (gone) return;
    gone = true;
    clearInterval(watch);
    ignoreOutputErrors(); // the shutdown's own lines
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
