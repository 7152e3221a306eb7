import { afterAll, describe, expect, it } from '@jest/globals';
import { createTestRedis, randomName } from '@spool/testkit';
import { until } from '@spool/testkit/wait';
import { Queue, Worker } from 'bullmq';
import { queuePrefix } from './keys.js';
import {
  addFlushJob,
  FLUSH_BACKOFF,
  FLUSH_JOB,
  FLUSH_JOB_OPTIONS,
  type FlushJobData,
  flushJobId,
  flushJobState,
  hurryFlushJob,
} from './queue.js';

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

describe('an urgent flush job', () => {
  it('is taken before the time-aged ones added earlier (a buffer at its threshold waits behind no quiet stream)', async () => {
    const prefix = queuePrefix(randomName('ns'));
    const queue = new Queue<FlushJobData>('flush', { connection, prefix });
    for (let i = 0; i < 5; i += 1) await addFlushJob(queue, `quiet-${i}`, 0);
    await addFlushJob(queue, 'hot', 0, { urgent: true });
    await addFlushJob(queue, 'hot', 1, { urgent: true });
    const taken: string[] = [];
    const worker = new Worker<FlushJobData>(
      'flush',
      async (job) => {
        taken.push(`${job.data.stream}@${job.data.gen}`);
      },
      { connection: workerConnection, prefix, concurrency: 1 },
    );
    try {
      await until('every job taken', async () => taken.length === 7);
      // The urgent ones first (the last added first among them), then the others in their order.
      expect(taken).toEqual([
        'hot@1',
        'hot@0',
        'quiet-0@0',
        'quiet-1@0',
        'quiet-2@0',
        'quiet-3@0',
        'quiet-4@0',
      ]);
    } finally {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('moves a job queued as time-aged to the front when it becomes urgent, once', async () => {
    const prefix = queuePrefix(randomName('ns'));
    const queue = new Queue<FlushJobData>('flush', { connection, prefix });
    /** The waiting jobs, the next to run first. */
    const line = async () => (await queue.getJobs(['waiting'], 0, -1, true)).map((job) => job.id);
    try {
      // The sweep found the buffer old and queued it behind the quiet streams' flushes.
      await addFlushJob(queue, 'hot', 0);
      for (let i = 0; i < 3; i += 1) await addFlushJob(queue, `quiet-${i}`, 0);
      expect(await line()).toEqual(['hot@0', 'quiet-0@0', 'quiet-1@0', 'quiet-2@0']);
      for (let i = 3; i < 5; i += 1) await addFlushJob(queue, `quiet-${i}`, 0);
      await addFlushJob(queue, 'other', 0, { urgent: true });
      expect((await line()).slice(0, 2)).toEqual(['other@0', 'hot@0']);

      // Its buffer crossed the threshold: the crossing's add (a no-op for an existing id) moves it.
      await addFlushJob(queue, 'hot', 0, { urgent: true });
      expect((await line())[0]).toBe('hot@0');
      expect((await queue.getJob('hot@0'))?.data).toEqual({ stream: 'hot', gen: 0, hurried: true });

      // Moved once: a later urgent job goes before it, as before any urgent one, and a sweep that
      // finds it urgent again does not move it back ahead.
      await addFlushJob(queue, 'hotter', 0, { urgent: true });
      expect(await hurryFlushJob(queue, await queue.getJob(flushJobId('hot', 0)))).toBe(false);
      expect(await line()).toEqual([
        'hotter@0',
        'hot@0',
        'other@0',
        'quiet-0@0',
        'quiet-1@0',
        'quiet-2@0',
        'quiet-3@0',
        'quiet-4@0',
      ]);
      // One that went in at the front is not moved either.
      expect(await hurryFlushJob(queue, await queue.getJob(flushJobId('other', 0)))).toBe(false);
      expect(await hurryFlushJob(queue, undefined)).toBe(false);

      // Finished and removed by a worker after it was read waiting (the timing forced): not
      // moved, and no error.
      await addFlushJob(queue, 'done', 0);
      const read = (await queue.getJob(flushJobId('done', 0))) as NonNullable<
        Awaited<ReturnType<typeof queue.getJob>>
      >;
      await read.remove();
      read.getState = async () => 'waiting';
      expect(await hurryFlushJob(queue, read)).toBe(false);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

describe('flushJobState', () => {
  it("says what BullMQ's Job.getState says of a job in each state, and reads no list but the active one", async () => {
    const prefix = queuePrefix(randomName('ns'));
    const queue = new Queue<FlushJobData>('flush', { connection, prefix });
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const worker = new Worker<FlushJobData>(
      'flush',
      async (job) => {
        if (job.data.stream === 'fails') throw new Error('S3 is away');
        if (job.data.stream === 'holds') await held;
      },
      { connection: workerConnection, prefix, concurrency: 1 },
    );
    try {
      const once = { ...FLUSH_JOB_OPTIONS, attempts: 1, removeOnComplete: false, removeOnFail: false };
      const add = (stream: string, options = {}) =>
        queue.add(FLUSH_JOB, { stream, gen: 0 }, { ...once, jobId: flushJobId(stream, 0), ...options });
      await add('fails');
      await add('lands');
      await add('holds');
      await until('the held job taken', async () => (await queue.getActiveCount()) === 1);
      // A wait list long enough that reading it whole would show.
      await queue.addBulk(
        Array.from({ length: 2_000 }, (_, n) => ({
          name: FLUSH_JOB,
          data: { stream: `waits-${n}`, gen: 0 },
          opts: { ...once, jobId: flushJobId(`waits-${n}`, 0) },
        })),
      );
      await add('later', { delay: 60_000 });
      const ids = ['fails', 'lands', 'holds', 'waits-0', 'waits-1999', 'later', 'never'].map((stream) =>
        flushJobId(stream, 0),
      );
      const both = async () =>
        Promise.all(
          ids.map(async (id) => [
            await flushJobState(queue, id),
            (await (await queue.getJob(id))?.getState()) ?? 'unknown',
          ]),
        );
      const states = await both();
      expect(states.map(([own]) => own)).toEqual([
        'failed',
        'completed',
        'active',
        'waiting',
        'waiting',
        'delayed',
        'unknown',
      ]);
      for (const [own, bullmq] of states) expect(own).toBe(bullmq);

      // What the queue's client sends Redis for one job's state: not its wait list.
      const client = (await queue.getBackend().client) as unknown as {
        sendCommand(command: { name: string; args: unknown[] }): unknown;
      };
      const asked: string[] = [];
      const send = client.sendCommand;
      client.sendCommand = function (this: unknown, command) {
        asked.push(command.name, ...command.args.map(String));
        return send.call(this, command);
      };
      try {
        await flushJobState(queue, flushJobId('waits-1999', 0));
      } finally {
        client.sendCommand = send;
      }
      expect(asked).toContain(queue.toKey('active'));
      expect(asked).not.toContain(queue.toKey('wait'));

      // Paused (Bull Board can), the waiting ones still wait, as BullMQ says.
      await queue.pause();
      expect(await flushJobState(queue, flushJobId('waits-0', 0))).toBe('waiting');
      expect(await (await queue.getJob(flushJobId('waits-0', 0)))?.getState()).toBe('waiting');
    } finally {
      release();
      await worker.close(true);
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
