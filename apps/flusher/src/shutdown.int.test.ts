import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import {
  flusherTestEnv,
  randomName,
  type ServiceProcess,
  spawnService,
  TcpProxy,
  testServices,
  waitFor,
} from '@spool/testkit';

const FLUSHER_MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** A flusher whose Redis is reached through a proxy (for the test to break), once it is ready. */
async function readyFlusherBehindProxy(): Promise<{ flusher: ServiceProcess; proxy: TcpProxy }> {
  const redis = new URL(testServices().redisUrl);
  const proxy = await TcpProxy.start(redis.hostname, Number(redis.port));
  const flusher = await spawnService(
    FLUSHER_MAIN,
    flusherTestEnv({
      REDIS_URL: proxy.url('redis'),
      REDIS_NAMESPACE: randomName('stop'),
      LOG_LEVEL: 'info',
    }),
  );
  await waitFor(
    async () => ((await fetch(`${flusher.url}/readyz`)).status === 200 ? true : undefined),
    30_000,
    'the flusher to be ready',
  );
  return { flusher, proxy };
}

describe("the flusher's shutdown", () => {
  it('with no flush in hand and Redis gone, stops on SIGTERM, says "stopped" and exits 0, not waiting for Redis', async () => {
    const { flusher, proxy } = await readyFlusherBehindProxy();
    try {
      // Gone as a stopped Redis is: connections dropped, new ones refused (ECONNREFUSED).
      await proxy.close();
      await waitFor(
        async () => ((await fetch(`${flusher.url}/readyz`)).status === 503 ? true : undefined),
        30_000,
        'the flusher to see Redis gone',
      );
      // Before: its worker's close waited for Redis, and the shutdown's grace (25 s) ran out:
      // "shutdown took too long", exit 1.
      expect(await flusher.stop('SIGTERM')).toBe(0);
      expect(flusher.output()).toContain('"msg":"stopped"');
      expect(flusher.output()).not.toContain('shutdown took too long');
    } finally {
      await flusher.stop('SIGKILL');
      await proxy.close();
    }
  });

  it('with no flush in hand and Redis silent (connections open, never answering), stops on SIGTERM and exits 0', async () => {
    const { flusher, proxy } = await readyFlusherBehindProxy();
    try {
      // A host that died without resetting its connections: they stay open, and nothing answers.
      proxy.wedge();
      // Before: its connections waited for Redis to answer QUIT, the grace (25 s) ran out, exit 1.
      // Now a connection silent for REDIS_SILENCE_MS (clients.ts) is dropped.
      expect(await flusher.stop('SIGTERM')).toBe(0);
      expect(flusher.output()).toContain('"msg":"stopped"');
    } finally {
      await flusher.stop('SIGKILL');
      await proxy.close();
    }
  });
});
