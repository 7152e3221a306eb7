import { type ChildProcess, spawn } from 'node:child_process';

/** A child process the chaos run can kill -9 and start again with the same command. */
export class ManagedProcess {
  private child: ChildProcess | undefined;
  restarts = 0;

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: Record<string, string> = {},
  ) {}

  start(): void {
    this.child = spawn(this.command, this.args, {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
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
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}
