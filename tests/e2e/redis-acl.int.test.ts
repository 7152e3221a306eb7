import { describe, expect, it } from '@jest/globals';
import {
  createTestRedis,
  createTestS3,
  flusherTestEnv,
  ingestTestEnv,
  listObjectKeys,
  randomName,
  readSpoolObject,
  SPOOL_MAINS,
  spawnService,
  testServices,
  waitFor,
} from '@spool/testkit';

/**
 * A Redis user without `@dangerous` (no INFO, CONFIG, ...) is one operations.md allows: it keeps
 * no memory reserve, and loses nothing else. BullMQ ran INFO when its queue connected, and every
 * flush job's add and take failed for good while both processes said they were ready.
 */
describe('under a Redis user that may not run INFO', () => {
  it('flushes what the ingest accepts, size-triggered and swept, and shows its status, its Redis settings unchecked', async () => {
    const services = testServices();
    const admin = createTestRedis();
    const s3 = createTestS3();
    const user = randomName('noinfo');
    await admin.call('ACL', 'SETUSER', user, 'on', '>acl-test-password', '~*', '&*', '+@all', '-@dangerous');
    const url = new URL(services.redisUrl);
    url.username = user;
    url.password = 'acl-test-password';
    const namespace = randomName('ns');
    const prefix = `${randomName('acl')}/`;
    const shared = { REDIS_URL: url.toString(), REDIS_NAMESPACE: namespace, LOG_LEVEL: 'warn' };
    const ingest = await spawnService(
      SPOOL_MAINS.ingest,
      ingestTestEnv({ ...shared, FLUSH_THRESHOLD_BYTES: '1KiB' }),
    );
    const flusher = await spawnService(
      SPOOL_MAINS.flusher,
      flusherTestEnv({ ...shared, S3_PREFIX: prefix, FLUSH_INTERVAL: '2s' }),
    );
    try {
      expect(await admin.call('ACL', 'DRYRUN', user, 'INFO')).toMatch(/no permissions/);
      // Past the threshold: the ingest adds the flush job. Under it: the sweep adds one by age.
      const big = Array.from({ length: 20 }, (_, i) => ({ messageId: `big-${i}`, pad: 'x'.repeat(100) }));
      const small = [{ messageId: 'small-0' }];
      for (const [stream, events] of [
        ['big', big],
        ['small', small],
      ] as const) {
        const answer = await fetch(`${ingest.url}/v1/streams/${stream}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(events),
        });
        expect(answer.status).toBe(202);
      }
      for (const [stream, ids] of [
        ['big', big.map((event) => event.messageId)],
        ['small', ['small-0']],
      ] as const) {
        const keys = await waitFor(
          async () => {
            const found = await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=${stream}/`);
            return found.length > 0 ? found : undefined;
          },
          30_000,
          `stream ${stream}'s object`,
        );
        const landed = [];
        for (const key of keys) {
          const object = await readSpoolObject(s3, services.s3.bucket, key);
          landed.push(...object.lines.map((line) => JSON.parse(line).messageId));
        }
        expect(landed.sort()).toEqual([...ids].sort());
      }
      // The status, as the page and `spool status` read it: Redis there, its settings unknown.
      const status = await fetch(`${flusher.url}/status.json`);
      expect(status.status).toBe(200);
      expect(((await status.json()) as { redis: object }).redis).toMatchObject({
        unchecked: true,
        warnings: [],
        notes: [expect.stringContaining('this Redis user may not run INFO')],
      });
      expect(ingest.output()).not.toContain('could not add the flush job');
      // No logged error of a refused INFO (ioredis's own ready check says, unlogged, that it skips).
      expect(flusher.output()).not.toContain('"message":"NOPERM');
      expect(ingest.output()).not.toContain('"message":"NOPERM');
    } finally {
      await Promise.all([ingest.stop(), flusher.stop()]);
      await admin.call('ACL', 'DELUSER', user);
      await admin.quit();
      s3.destroy();
    }
  });
});
