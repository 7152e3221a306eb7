import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { flusherTestEnv, randomName, spawnService, TcpProxy, testServices, untilReady } from '@spool/testkit';

const FLUSHER_MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

describe("the flusher's probes", () => {
  it('answer while Redis is away at start: /healthz 200, /readyz 503 naming Redis, then ready once Redis answers', async () => {
    const redis = new URL(testServices().redisUrl);
    const proxy = await TcpProxy.start(redis.hostname, Number(redis.port));
    proxy.cut();
    // spawnService returns once /healthz answers 200: before, the flusher listened only after
    // its first Redis command, and its liveness probe would have restarted it through the outage.
    const flusher = await spawnService(
      FLUSHER_MAIN,
      flusherTestEnv({
        REDIS_URL: proxy.url('redis'),
        REDIS_NAMESPACE: randomName('probes'),
        LOG_LEVEL: 'info',
      }),
    );
    try {
      const notReady = await fetch(`${flusher.url}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toMatchObject({
        status: 'not ready',
        reason: expect.stringMatching(/Redis/),
      });

      proxy.restore();
      await untilReady(flusher, 30_000);
      expect(await flusher.stop('SIGTERM')).toBe(0);
    } finally {
      await flusher.stop('SIGKILL');
      await proxy.close();
    }
  });

  it('say not ready while Redis hangs with its connections open, and ready once it answers again', async () => {
    const redis = new URL(testServices().redisUrl);
    const proxy = await TcpProxy.start(redis.hostname, Number(redis.port));
    const flusher = await spawnService(
      FLUSHER_MAIN,
      flusherTestEnv({ REDIS_URL: proxy.url('redis'), REDIS_NAMESPACE: randomName('probes') }),
    );
    try {
      await untilReady(flusher, 30_000);
      // Connected, and nothing answers: a stopped Redis, or one busy with a long script.
      proxy.blackhole();
      const hung = await fetch(`${flusher.url}/readyz`);
      expect(hung.status).toBe(503);
      expect(await hung.json()).toEqual({
        status: 'not ready',
        reason: 'Redis did not answer a PING within 500 ms',
      });

      proxy.restore();
      await untilReady(flusher, 30_000);
    } finally {
      await flusher.stop('SIGKILL');
      await proxy.close();
    }
  });
});
