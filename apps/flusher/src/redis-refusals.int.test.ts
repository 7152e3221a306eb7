import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { addFlushJob, FLUSH_QUEUE, type FlushJobData, queuePrefix, streamKeys } from '@spool/shared';
import {
  createTestS3,
  listObjectKeys,
  randomName,
  readSpoolObject,
  testServices,
  waitUntilLanded,
} from '@spool/testkit';
import { type ManagedProcess, startRedisServer } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { fillBuffer, startTestFlusher } from '../test/support.js';

/** A Redis of its own: the test sets its maxmemory. */
const dir = mkdtempSync(join(tmpdir(), 'spool-refusals-'));
let server: ManagedProcess;
let url: string;
let redis: Redis;
const s3 = createTestS3();
const { bucket } = testServices().s3;

beforeAll(async () => {
  const port = await freePort();
  server = startRedisServer('refusing', port, dir);
  url = `redis://127.0.0.1:${port}`;
  redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  redis?.disconnect();
  s3.destroy();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const commandsProcessed = async () =>
  Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1] ?? Number.NaN);

describe('a flusher whose Redis refuses its writes (OOM at maxmemory)', () => {
  it('asks for the waiting jobs about once a second, not again at once after each refusal, and runs them once Redis has room', async () => {
    const namespace = randomName('ns');
    const keys = streamKeys(randomName('web'), namespace);
    const lines = await fillBuffer(redis, keys, 20_000);
    // A job waiting before the flusher starts, and Redis full before it asks for it.
    const queue = new Queue<FlushJobData>(FLUSH_QUEUE, { connection: redis, prefix: queuePrefix(namespace) });
    await addFlushJob(queue, keys.stream, 0);
    await queue.close();
    await redis.config('SET', 'maxmemory', '1');
    const flusher = await startTestFlusher({
      REDIS_URL: url,
      REDIS_NAMESPACE: namespace,
      FLUSH_INTERVAL: '1h',
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const before = await commandsProcessed();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const during = (await commandsProcessed()) - before;
      // Asking again at once after each refusal was some 11,500 commands a second; resting a
      // second after each, a few. A bound between them with room on both sides.
      expect(during).toBeLessThan(1_000);

      await redis.config('SET', 'maxmemory', '0');
      await waitUntilLanded(redis, [keys.stream], { namespace, timeoutMs: 30_000 });
      const landed: string[] = [];
      for (const key of await listObjectKeys(s3, bucket, `stream=${keys.stream}/`)) {
        const object = await readSpoolObject(s3, bucket, key);
        landed.push(...object.lines.map((line) => JSON.parse(line).messageId as string));
      }
      expect(landed.sort()).toEqual([...lines].sort());
    } finally {
      await redis.config('SET', 'maxmemory', '0');
      await flusher.close();
    }
  });
});
