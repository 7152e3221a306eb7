import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomName } from '@spool/testkit';
import { type ManagedProcess, startRedisServer } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';
import { until } from '@spool/testkit/wait';
import { streamKeys } from './keys.js';
import { connectRedis, type RedisClient } from './redis-connection.js';
import {
  appendToBuffer,
  defineSpoolCommands,
  pinDestination,
  releaseGeneration,
  sealGeneration,
} from './scripts.js';

/**
 * Spool's scripts on a Redis at its maxmemory (noeviction, as Spool needs it), which refuses a
 * script's first write: what a flush still does there. A Redis of this test's own.
 */
const dir = mkdtempSync(join(tmpdir(), 'spool-at-maxmemory-'));
let server: ManagedProcess;
let redis: RedisClient;

beforeAll(async () => {
  const port = await freePort();
  server = startRedisServer('full', port, dir, ['--maxmemory-policy', 'noeviction']);
  redis = connectRedis({ kind: 'standalone', url: `redis://127.0.0.1:${port}` }, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  await until('Redis is up', async () => (await redis.ping().catch(() => '')) === 'PONG');
  defineSpoolCommands(redis);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('at maxmemory', () => {
  it('a retried flush reads its pinned destination, seals and releases: only new data is refused', async () => {
    const keys = streamKeys(randomName());
    const destination = { bucket: 'b', prefix: 'p/' };
    const append = (line: string) =>
      appendToBuffer(redis, keys, {
        chunk: `${line}\n`,
        eventCount: 1,
        maxBytes: 1_000_000,
        dedupeWindowMs: 0,
        clientIds: { ids: [], lines: [] },
      });
    await append('{"a":1}');
    await sealGeneration(redis, keys, 0);
    // Its first attempt pinned where the object goes, then failed (S3 away, say).
    expect(await pinDestination(redis, keys, 0, destination)).toEqual(destination);
    await append('{"b":2}');

    await redis.config('SET', 'maxmemory', '1');
    try {
      await expect(append('{"c":3}')).rejects.toThrow(/OOM/);
      // The retry: the same destination, without a write.
      expect(await pinDestination(redis, keys, 0, { bucket: 'other', prefix: 'q/' })).toEqual(destination);
      // Uploaded: released, which frees memory. The next generation seals too.
      expect(await releaseGeneration(redis, keys, 0, 1)).toBe(true);
      expect(await redis.exists(`${keys.sealedPrefix}:0`, keys.sealedMeta(0))).toBe(0);
      expect(await sealGeneration(redis, keys, 1)).toMatchObject({ status: 'sealed' });
    } finally {
      await redis.config('SET', 'maxmemory', '0');
    }
  });
});
