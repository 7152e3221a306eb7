import { type ChildProcess, spawn } from 'node:child_process';
import { childOutput } from './child-output.js';
import { withoutSpoolSettings } from './inherited-env.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

/** A Spool process (ingest or flusher) started from its built `main.js`, for tests. */
export interface ServiceProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:<port>` it listens on. */
  url: string;
  pid: number;
  /** Everything it printed so far (JSON log lines). */
  output(): string;
  /** Sends a signal and resolves with the exit code once it has exited, its output all read. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

async function answersHealth(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`)).status === 200;
  } catch {
    return false;
  }
}

/**
 * Starts `node <script>` with the current environment (less Spool's settings) plus `env`, on 127.0.0.1 and a free port,
 * and resolves once its /healthz answers (whatever its log level). Throws with its output if it
 * exits or does not start in time.
 */
export async function spawnService(
  script: string,
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<ServiceProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [script], {
    env: { ...withoutSpoolSettings(), HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { closed, all: output } = childOutput(child);

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.pid !== undefined && child.exitCode === null && (await answersHealth(url))) {
      return {
        child,
        url,
        pid: child.pid,
        output,
        async stop(signal = 'SIGTERM') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          // Past every service's shutdown grace (25 s at most): killed, so that no test leaves one
          // running, which Jest would wait on for good.
          const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
          kill.unref();
          try {
            return await closed;
          } finally {
            clearTimeout(kill);
          }
        },
      };
    }
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`${script} did not start:\n${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Waits until a spawned service says it is ready (`/readyz` 200: connected to Redis). spawnService
 * waits for `/healthz` only, which a service answers before it has connected: on a loaded runner
 * a test's first request then got 503 (clean clones' runs).
 */
export async function untilReady(service: { url: string }, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    async () => ((await fetch(`${service.url}/readyz`)).status === 200 ? true : undefined),
    timeoutMs,
    `${service.url} to be ready`,
  );
}
