import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Where a process's output goes: nowhere, this process's own streams, or line by line to a handler. */
export type ProcessOutput = 'ignore' | 'inherit' | ((name: string, line: string) => void);

/**
 * Whether children start in a session of their own, away from this process's terminal (make dev).
 * A terminal's Ctrl-C reaches its whole foreground process group at once: Redis and the S3
 * stand-in stopped as the services began theirs, and a request in flight was answered 503 where
 * make dev's own stop (the services first, Redis last) answers it 202 (a review's run). Not for
 * tests: a runner's Ctrl-C stops what it started, for want of its teardown.
 */
let ownSessions = false;

/** Starts every child from now on in a session of its own: only this process hears the terminal. */
export function startChildrenInOwnSessions(): void {
  ownSessions = true;
}

/** A child process a local stack can stop, kill -9 and start again with the same command. */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  restarts = 0;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: Record<string, string> = {},
    private readonly output: ProcessOutput = 'ignore',
    /** The environment `env` is added to. */
    private readonly inherited: NodeJS.ProcessEnv = process.env,
  ) {}

  start(): void {
    const piped = typeof this.output === 'function';
    this.child = spawn(this.command, this.args, {
      env: { ...this.inherited, ...this.env },
      detached: ownSessions,
      stdio: ['ignore', piped ? 'pipe' : this.output, piped ? 'pipe' : this.output] as never,
    });
    if (typeof this.output === 'function') {
      const handle = this.output;
      for (const stream of [this.child.stdout, this.child.stderr]) {
        if (stream) createInterface({ input: stream }).on('line', (line) => handle(this.name, line));
      }
    }
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True until the process exits. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the exit code once the process exits (at once if it has). */
  exited(): Promise<number | null> {
    const child = this.child;
    if (!child || !this.running) return Promise.resolve(child?.exitCode ?? null);
    return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** SIGSTOP: the process stands still, its sockets open (a hung or cut-off node), until `thaw`. */
  freeze(): void {
    if (this.running) this.child?.kill('SIGSTOP');
  }

  /** SIGCONT: a frozen process goes on. */
  thaw(): void {
    if (this.running) this.child?.kill('SIGCONT');
  }

  /** SIGKILL: no shutdown, no flush, no goodbye. */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  async restart(afterMs = 0): Promise<void> {
    await this.kill9();
    await new Promise((resolve) => setTimeout(resolve, afterMs));
    this.restarts += 1;
    this.start();
  }

  /** SIGTERM, and SIGKILL if it has not exited after `graceMs`: tearing down never hangs. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    const stubborn = setTimeout(() => child?.kill('SIGKILL'), graceMs);
    try {
      await this.signal('SIGTERM');
    } finally {
      clearTimeout(stubborn);
    }
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}
