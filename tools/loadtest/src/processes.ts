import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export { freePort } from '@spool/testkit/ports';

/** The repository this tool runs from (dist/processes.js is three levels down). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * The S3-compatible stand-in's entry point (s3rver, docker/test-images/s3), its dependencies
 * installed first when a fresh clone has not got them yet.
 */
export function s3StandinMain(): string {
  const standin = join(REPO_ROOT, 'docker/test-images/s3');
  if (!existsSync(join(standin, 'node_modules'))) {
    execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: standin,
    });
  }
  return join(standin, 'serve.mjs');
}

/** Polls `check` (errors count as not yet) until it is true; throws after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** redis-server as Spool ships it: AOF on, no RDB snapshots, never evicting a buffer. */
export function redisServerArgs(port: number, dir: string, fsync: 'always' | 'everysec'): string[] {
  return [
    ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
    ...['--appendonly', 'yes', '--appendfsync', fsync, '--save', '', '--maxmemory-policy', 'noeviction'],
  ];
}
