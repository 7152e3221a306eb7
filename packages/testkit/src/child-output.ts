import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

export interface ChildOutput {
  /** Its exit code (null when a signal ended it), once it has exited and its output is all read. */
  closed: Promise<number | null>;
  /** Its stdout so far. */
  out(): string;
  /** Its stderr so far. */
  err(): string;
  /** Both, in the order they came. */
  all(): string;
}

/**
 * Collects a child process's output. `closed` waits for `close`, not `exit`: at `exit` the last of
 * the output may still be unread (Node's docs say so), and a test reading a line printed just
 * before `process.exit` could miss it.
 */
export function childOutput(child: ChildProcess): ChildOutput {
  let out = '';
  let err = '';
  let all = '';
  child.stdout?.on('data', (data: Buffer) => {
    out += data.toString('utf8');
    all += data.toString('utf8');
  });
  child.stderr?.on('data', (data: Buffer) => {
    err += data.toString('utf8');
    all += data.toString('utf8');
  });
  const closed = once(child, 'close').then(([code]) => code as number | null);
  return { closed, out: () => out, err: () => err, all: () => all };
}
