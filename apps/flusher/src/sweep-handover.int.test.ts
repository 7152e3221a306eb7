import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { sweepLeaseKey } from '@spool/shared';
import { flusherTestEnv, randomName, spawnService, waitFor } from '@spool/testkit';
import { startRedisServer } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';
import { Redis } from 'ioredis';

const FLUSHER_MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const AT_RISK = 'spool_redis_at_risk{reason="eviction"} 1';

describe('a flusher whose sweeps another flusher takes over', () => {
  it("drops what its sweeps said, Redis's health too: alerts take the highest of every flusher's", async () => {
    // A Redis of its own, evicting: the shared one's settings are not this test's to change.
    const dir = mkdtempSync(join(tmpdir(), 'spool-handover-'));
    const port = await freePort();
    const server = startRedisServer('handover', port, dir, ['--maxmemory-policy', 'allkeys-lru']);
    const redis = new Redis(port, '127.0.0.1');
    const namespace = randomName('handover');
    // FLUSH_INTERVAL 4s: a sweep tick a second.
    const flusher = await spawnService(
      FLUSHER_MAIN,
      flusherTestEnv({
        REDIS_URL: `redis://127.0.0.1:${port}`,
        REDIS_NAMESPACE: namespace,
        FLUSH_INTERVAL: '4s',
      }),
    );
    const metrics = async () => (await fetch(`${flusher.url}/metrics`)).text();
    try {
      await waitFor(async () => ((await metrics()).includes(AT_RISK) ? true : undefined), 30_000, 'a sweep');
      // Another flusher holds every tick from now on; three in a row make this one forget.
      await redis.set(sweepLeaseKey(namespace), 'another-flusher:1', 'PX', 600_000);
      const skipped = async () =>
        Number(/spool_sweep_ticks_total\{outcome="skipped"\} (\d+)/.exec(await metrics())?.[1] ?? 0);
      const before = await skipped();
      await waitFor(
        async () => ((await skipped()) >= before + 3 ? true : undefined),
        30_000,
        'three skipped ticks',
      );
      expect(await metrics()).not.toContain('spool_redis_at_risk{');
    } finally {
      await flusher.stop('SIGKILL');
      redis.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
