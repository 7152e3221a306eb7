export { freePort } from '@spool/testkit/ports';

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
