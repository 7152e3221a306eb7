import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

/** A Spool process (ingest or flusher) started from its built `main.js`, for tests. */
export interface ServiceProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` it listens on. */
  url: string;
  pid: number;
  /** Everything it printed so far (JSON log lines). */
  output(): string;
  /** Sends a signal and resolves with the exit code once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const LISTENING = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/;

/**
 * Starts `node <script>` with the current environment plus `env`, on 127.0.0.1 and a free port,
 * and resolves once it listens. Throws with its output if it exits or does not start in time.
 */
export async function spawnService(
  script: string,
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (data: Buffer) => {
    output += data.toString('utf8');
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = once(child, 'exit').then(([code]) => code as number | null);

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = LISTENING.exec(output);
    if (match?.[1] && child.pid !== undefined) {
      const url = match[1];
      return {
        child,
        url,
        pid: child.pid,
        output: () => output,
        async stop(signal = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      };
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`${script} did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
