import { afterAll, describe, expect, it } from '@jest/globals';
import { createTestRedis, randomName } from '@spool/testkit';
import { until } from '@spool/testkit/wait';
import { Queue, Worker } from 'bullmq';
import { queuePrefix } from './keys.js';
import { FLUSH_BACKOFF, FLUSH_JOB, FLUSH_JOB_OPTIONS, type FlushJobData } from './queue.js';

const connection = createTestRedis({ maxRetriesPerRequest: null });
const workerConnection = connection.duplicate();
afterAll(async () => {
  await workerConnection.quit();
  await connection.quit();
});

describe('a flush job that keeps failing', () => {
  it('keeps the stack traces of its last 5 attempts only, however often it is retried', async () => {
    const prefix = queuePrefix(randomName('ns'));
    const queue = new Queue<FlushJobData>('flush', { connection, prefix });
    const worker = new Worker<FlushJobData>(
      'flush',
      async () => {
        throw new Error('S3 is away');
      },
      {
        connection: workerConnection,
        prefix,
        settings: { backoffStrategy: (_attempts, type) => (type === FLUSH_BACKOFF ? 5 : 0) },
      },
    );
    try {
      const job = await queue.add(FLUSH_JOB, { stream: 'web', gen: 0 }, FLUSH_JOB_OPTIONS);
      await until(
        '12 failed attempts',
        async () => ((await queue.getJob(job.id as string))?.attemptsMade ?? 0) >= 12,
      );
      const stored = await queue.getJob(job.id as string);
      expect(stored?.stacktrace?.length).toBe(5);
    } finally {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
