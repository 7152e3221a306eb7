import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  defineSpoolCommands,
  FLUSH_JOB,
  FLUSH_JOB_OPTIONS,
  FLUSH_QUEUE,
  flushJobId,
  queuePrefix,
  registerStream,
  streamKeys,
  streamRegistryKey,
} from '@spool/shared';
import {
  createTestRedis,
  flusherTestEnv,
  randomName,
  type ServiceProcess,
  spawnService,
  TcpProxy,
  testServices,
  untilReady,
  waitFor,
} from '@spool/testkit';
import { Queue } from 'bullmq';
import { fillBuffer } from '../test/support.js';

const FLUSHER_MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const redis = createTestRedis();
defineSpoolCommands(redis);
afterAll(() => redis.quit());

/**
 * A flusher whose Redis is reached through a proxy (for the test to break), with `env` besides,
 * once it is ready.
 */
async function readyFlusherBehindProxy(env: Record<string, string> = {}): Promise<{
  flusher: ServiceProcess;
  proxy: TcpProxy;
  namespace: string;
}> {
  const redisUrl = new URL(testServices().redisUrl);
  const proxy = await TcpProxy.start(redisUrl.hostname, Number(redisUrl.port));
  const namespace = randomName('stop');
  const flusher = await spawnService(
    FLUSHER_MAIN,
    flusherTestEnv({
      REDIS_URL: proxy.url('redis'),
      REDIS_NAMESPACE: namespace,
      LOG_LEVEL: 'info',
      ...env,
    }),
  );
  await untilReady(flusher, 30_000);
  return { flusher, proxy, namespace };
}

/** One event in `stream`'s buffer, the stream registered: a generation for a flush job to take. */
async function bufferOneEvent(namespace: string, stream: string): Promise<void> {
  await registerStream(redis, streamRegistryKey(namespace), stream);
  await fillBuffer(redis, streamKeys(stream, namespace), 1, { lineBytes: 1 });
}

describe("the flusher's shutdown", () => {
  it('waits for BullMQ to record a job that ended as SIGTERM came: it is completed (and removed), not left active until its lock expires', async () => {
    const { flusher, proxy, namespace } = await readyFlusherBehindProxy();
    const queue = new Queue(FLUSH_QUEUE, { connection: redis, prefix: queuePrefix(namespace) });
    try {
      const stream = randomName('ended');
      const jobId = flushJobId(stream, 0);
      await bufferOneEvent(namespace, stream);
      // The job's completion (moveToFinished names it and the queue's completed set) is held.
      const completing = proxy.holdRequestWith([jobId, ':completed']);
      await queue.add(FLUSH_JOB, { stream, gen: 0 }, { ...FLUSH_JOB_OPTIONS, jobId });
      await completing;
      const exited = flusher.stop('SIGTERM');
      // Before: no job was in hand once its processor had returned, so the close cut the worker's
      // connection, completion and all, and said nothing of it.
      await waitFor(
        async () => (flusher.output().includes('"msg":"finishing the jobs in hand"') ? true : undefined),
        30_000,
        'the flusher to wait for the job in hand',
      );
      expect(flusher.output()).toContain(`"jobs":["${jobId}"]`);
      proxy.restore();
      expect(await exited).toBe(0);
      // Recorded completed, and so removed at once (removeOnComplete): gone, not active.
      expect(await queue.getJobState(jobId)).toBe('unknown');
      expect(await queue.getActive()).toEqual([]);
    } finally {
      await flusher.stop('SIGKILL');
      await proxy.close();
      await queue.close();
    }
  });

  it('lets go of a job BullMQ could not record (its lock lost) once the lock would have expired: SIGTERM then finds none in hand', async () => {
    const s3Url = new URL(testServices().s3.endpoint);
    const s3Proxy = await TcpProxy.start(s3Url.hostname, Number(s3Url.port));
    const {
      flusher,
      proxy: redisProxy,
      namespace,
    } = await readyFlusherBehindProxy({
      S3_ENDPOINT: s3Proxy.url('http'),
      S3_TIMEOUT: '2s',
      FLUSH_LOCK_DURATION: '2s',
    });
    const queue = new Queue(FLUSH_QUEUE, { connection: redis, prefix: queuePrefix(namespace) });
    try {
      const stream = randomName('lost');
      const jobId = flushJobId(stream, 0);
      await bufferOneEvent(namespace, stream);
      // The upload hangs, then fails after S3_TIMEOUT; meanwhile the job's lock is lost (as to a
      // failover, or to another flusher's stalled check), so BullMQ cannot record the failure.
      s3Proxy.blackhole();
      await queue.add(FLUSH_JOB, { stream, gen: 0 }, { ...FLUSH_JOB_OPTIONS, jobId });
      await waitFor(async () => ((await queue.getActive()).length > 0 ? true : undefined), 30_000, 'the job');
      expect(await redis.del(`${queuePrefix(namespace)}:${FLUSH_QUEUE}:${jobId}:lock`)).toBe(1);
      await waitFor(
        async () => (/Missing lock|Lock mismatch/.test(flusher.output()) ? true : undefined),
        30_000,
        'BullMQ to fail to record the job',
      );
      const unrecordedAt = Date.now();
      s3Proxy.restore();
      // The stalled check puts it back, and a retry lands it.
      await waitFor(
        async () => ((await queue.getJobState(jobId)) === 'unknown' ? true : undefined),
        30_000,
        'the job to land',
      );
      // Past FLUSH_LOCK_DURATION since the unrecorded end: not a timing assertion, the point after
      // which the job is no longer this flusher's. Before, it stayed in hand for good.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, unrecordedAt + 3_000 - Date.now())));
      redisProxy.wedge(); // Redis silent at shutdown: with a job in hand, the close waits on it
      expect(await flusher.stop('SIGTERM')).toBe(0);
      expect(flusher.output()).not.toContain('finishing the jobs in hand');
    } finally {
      await flusher.stop('SIGKILL');
      await redisProxy.close();
      await s3Proxy.close();
      await queue.close();
    }
  }, 120_000); // its waits add up past Jest's 60 s on a loaded runner

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
