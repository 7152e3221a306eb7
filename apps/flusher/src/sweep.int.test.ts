import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import {
  addFlushJob,
  appendToBuffer,
  defineSpoolCommands,
  FLUSH_JOB,
  FLUSH_JOB_OPTIONS,
  FLUSH_QUEUE,
  type FlushJobData,
  flushJobId,
  legacyLastFlushErrorKey,
  legacyRegistryKeys,
  loadConfig,
  queuePrefix,
  recordRejected,
  redisNow,
  registerStream,
  sealGeneration,
  shardUnit,
  streamForgetAfterMs,
  streamKeys,
  streamRegistryKey,
} from '@spool/shared';
import {
  createTestRedis,
  createTestS3,
  flusherTestEnv,
  ONLY_THE_WALL_CLOCK,
  randomName,
  waitFor,
} from '@spool/testkit';
import { startRedisServer } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { flushGeneration } from './flush-generation.js';
import { createFlusherMetrics } from './metrics.js';
import { SIDE_FILE_FAILURES_PER_TICK, SWEEP_CONCURRENCY, sweep, sweepEveryMs } from './sweep.js';

const NS = randomName('ns');
const redis = createTestRedis();
defineSpoolCommands(redis);
const queueConnection = createTestRedis();
const queue = new Queue<FlushJobData>(FLUSH_QUEUE, { connection: queueConnection, prefix: queuePrefix(NS) });
const config = loadConfig(
  flusherTestEnv({ REDIS_NAMESPACE: NS, FLUSH_INTERVAL: '1m', FLUSH_THRESHOLD_BYTES: '1KiB' }),
  'flusher',
);
const metrics = createFlusherMetrics();
const s3 = createTestS3();
const deps = { config, redis, s3, queue, logger: pino({ level: 'silent' }), metrics };

afterAll(async () => {
  await queue.close();
  await queueConnection.quit();
  await redis.quit();
  s3.destroy();
});

const registry = streamRegistryKey(NS);

/** `count` refused events recorded on a stream's keys, as the ingest records them (QUARANTINE_MAX_EVENTS 1,000). */
async function rejectEvents(keys: ReturnType<typeof streamKeys>, count: number): Promise<void> {
  const entry = JSON.stringify({
    receivedAt: new Date().toISOString(),
    code: 'SPOOL_INVALID_JSON',
    text: '{',
  });
  await recordRejected(
    redis,
    keys,
    { count, entries: Array.from({ length: count }, () => entry), stored: false },
    1_000,
  );
}

/** Where a stream's generation-0 flush job stands in the waiting line: 0 runs next. */
const placeInLine = async (stream: string) =>
  (await queue.getJobs(['waiting'], 0, -1, true)).findIndex((job) => job.id === flushJobId(stream, 0));

/** Appends about `bytes` to the stream, as the ingest does, and dates the buffer `sinceMs`. */
async function write(stream: string, bytes: number, sinceMs: number, ns = NS): Promise<void> {
  const keys = streamKeys(stream, ns);
  await registerStream(redis, streamRegistryKey(ns), stream);
  const line = `${JSON.stringify({ pad: 'x'.repeat(Math.max(bytes - 12, 0)) })}\n`;
  await appendToBuffer(redis, keys, {
    chunk: line,
    eventCount: 1,
    maxBytes: 1e9,
    dedupeWindowMs: 0,
    clientIds: { ids: [], lines: [] },
  });
  await redis.set(keys.since, sinceMs);
}

describe('the sweep', () => {
  it('enqueues old buffers, lost crossings and orphaned sealed generations, and leaves the rest alone', async () => {
    const now = await redisNow(redis);
    const [young, old, crossed, sealed, withJob] = ['young', 'old', 'crossed', 'sealed', 'withjob'].map(
      (name) => randomName(name),
    ) as [string, string, string, string, string];
    await write(young, 100, now - 1_000);
    await write(old, 100, now - 61_000);
    await write(crossed, 2_000, now - 1_000);
    await write(sealed, 100, now - 1_000);
    await sealGeneration(redis, streamKeys(sealed, NS), 0);
    await write(withJob, 2_000, now - 1_000);
    await queue.add(
      FLUSH_JOB,
      { stream: withJob, gen: 0 },
      { ...FLUSH_JOB_OPTIONS, jobId: flushJobId(withJob, 0), delay: 60_000 },
    );

    const result = await sweep(deps);
    const after = await redisNow(redis);

    expect(result.enqueued.sort()).toEqual(
      [flushJobId(old, 0), flushJobId(crossed, 0), flushJobId(sealed, 0)].sort(),
    );
    expect(result.streams).toBe(5);
    expect(await queue.getJob(flushJobId(young, 0))).toBeUndefined();
    // The crossed buffer and the sealed generation hold room of MAX_BUFFER_BYTES: to the front of
    // the queue (addFlushJob's `urgent`); the old one, quiet, waits its turn.
    const urgent = async (stream: string) => Boolean((await queue.getJob(flushJobId(stream, 0)))?.opts.lifo);
    expect({ old: await urgent(old), crossed: await urgent(crossed), sealed: await urgent(sealed) }).toEqual({
      old: false,
      crossed: true,
      sealed: true,
    });
    const metricsText = await metrics.registry.metrics();
    // The old buffer's age when the sweep read Redis's clock: 61 s plus however long the writes
    // above took (a loaded runner took 2 s of them: 63.039, where 6[0-2] was asked).
    const age = Number(/^spool_oldest_buffer_age_seconds (\S+)$/m.exec(metricsText)?.[1]);
    expect(age).toBeGreaterThanOrEqual(61);
    expect(age).toBeLessThanOrEqual(61 + (after - now) / 1000);

    // A second sweep adds nothing: the jobs exist.
    expect((await sweep(deps)).enqueued).toEqual([]);
  });

  it("counts a stream's sealed generations in its fill, though its active buffer is empty (S3 down: SpoolBufferNearlyFull)", async () => {
    const stream = randomName('held');
    const keys = streamKeys(stream, NS);
    await registerStream(redis, registry, stream);
    await appendToBuffer(redis, keys, {
      chunk: `${JSON.stringify({ pad: 'x'.repeat(1_990) })}\n`,
      eventCount: 1,
      maxBytes: 1e9,
      dedupeWindowMs: 0,
      clientIds: { ids: [], lines: [] },
    });
    const sealed = await sealGeneration(redis, keys, 0);
    expect(sealed).toMatchObject({ status: 'sealed', length: 2_001 });
    await sweep(deps);
    const text = await metrics.registry.metrics();
    expect(text).toContain(`spool_buffer_bytes{stream="${stream}"} 0`);
    expect(text).toContain(`spool_buffer_fill_ratio{stream="${stream}"} ${2_001 / config.maxBufferBytes}`);
  });

  it('registers, once in ten minutes, the streams holding events that the registry lost, and so flushes them', async () => {
    // A registry that lost a stream mid-buffer (a failover, its key deleted): the ingest registers
    // it again only once a minute or with a new buffer, and its last events stayed in Redis for good.
    const ns = randomName('ns');
    const nsQueue = new Queue<FlushJobData>(FLUSH_QUEUE, {
      connection: queueConnection,
      prefix: queuePrefix(ns),
    });
    const nsConfig = loadConfig(flusherTestEnv({ REDIS_NAMESPACE: ns, FLUSH_INTERVAL: '1m' }), 'flusher');
    const logLines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => logLines.push(line) });
    const nsDeps = { ...deps, config: nsConfig, queue: nsQueue, logger };
    try {
      const now = await redisNow(redis);
      const [buffered, sealed, quiet] = [randomName('buffered'), randomName('sealed'), randomName('quiet')];
      await write(buffered, 200, now - 120_000, ns);
      await write(sealed, 200, now, ns);
      await sealGeneration(redis, streamKeys(sealed, ns), 0);
      await write(quiet, 200, now, ns);
      await redis.zrem(streamRegistryKey(ns), buffered, sealed);

      const first = await sweep(nsDeps);
      expect(first.enqueued.sort()).toEqual([flushJobId(buffered, 0), flushJobId(sealed, 0)].sort());
      expect((await redis.zrange(streamRegistryKey(ns), '0', '-1')).sort()).toEqual(
        [buffered, quiet, sealed].sort(),
      );
      const warning = logLines.map((line) => JSON.parse(line)).find((line) => line.streams !== undefined);
      expect(warning).toMatchObject({ streams: 2 });
      expect(warning.first.sort()).toEqual([buffered, sealed].sort());

      // Not again for ten minutes, whichever flusher sweeps: a look SCANs every key.
      await redis.zrem(streamRegistryKey(ns), quiet);
      await sweep(nsDeps);
      expect(await redis.zscore(streamRegistryKey(ns), quiet)).toBeNull();
    } finally {
      await nsQueue.obliterate({ force: true });
      await nsQueue.close();
    }
  });

  it('moves a time-aged job to the front once its buffer crosses the threshold', async () => {
    const now = await redisNow(redis);
    const [quiet, aged] = [randomName('quiet'), randomName('aged')];
    await write(quiet, 100, now - 61_000);
    expect((await sweep(deps)).enqueued).toContain(flushJobId(quiet, 0));
    // Old, so queued as time-aged: behind the quiet stream's flush.
    await write(aged, 100, now - 61_000);
    expect((await sweep(deps)).enqueued).toContain(flushJobId(aged, 0));
    expect(await placeInLine(aged)).toBeGreaterThan(await placeInLine(quiet));

    // Its buffer then crossed the threshold (the crossing's own add lost, or run before this).
    await write(aged, 2_000, now - 61_000);
    const result = await sweep(deps);
    expect(result.hurried).toEqual([flushJobId(aged, 0)]);
    expect(result.enqueued).toEqual([]);
    expect(await placeInLine(aged)).toBeLessThan(await placeInLine(quiet));
    // Once: the next sweep leaves it where it is.
    expect((await sweep(deps)).hurried).toEqual([]);
  });

  it('moves a time-aged job that has waited FLUSH_INTERVAL to the front, once, ahead of the urgent ones', async () => {
    // A hot stream's threshold flushes go first, and with as many hot shards as workers there was
    // always one: a quiet stream's flush waited as long as the load lasted (a review's run).
    const now = await redisNow(redis);
    const [waited, recent, hot] = [randomName('waited'), randomName('recent'), randomName('hot')];
    // Queued as time-aged a minute ago (FLUSH_INTERVAL), and just now.
    await write(waited, 100, now - 121_000);
    await queue.add(
      FLUSH_JOB,
      { stream: waited, gen: 0 },
      { ...FLUSH_JOB_OPTIONS, jobId: flushJobId(waited, 0), timestamp: now - 60_000 },
    );
    await write(recent, 100, now - 61_000);
    await addFlushJob(queue, recent, 0);
    // Then a hot stream's crossing, queued by its ingest: its flush goes to the front.
    await write(hot, 2_000, now);
    await addFlushJob(queue, hot, 0, { urgent: true });
    expect(await placeInLine(hot)).toBe(0);

    const result = await sweep(deps);
    expect(result.hurried).toEqual([flushJobId(waited, 0)]);
    expect(await placeInLine(waited)).toBe(0);
    expect(await placeInLine(hot)).toBeLessThan(await placeInLine(recent));
    // Once: the next sweep leaves it where it is.
    expect((await sweep(deps)).hurried).toEqual([]);
  });

  it('moves at most so many time-aged jobs a tick (each move scans the wait list), the rest at the next ones', async () => {
    const ns = randomName('ns');
    const nsQueue = new Queue<FlushJobData>(FLUSH_QUEUE, {
      connection: queueConnection,
      prefix: queuePrefix(ns),
    });
    const nsDeps = {
      ...deps,
      config: { ...config, namespace: ns },
      queue: nsQueue,
      hurriedAfterWaitingPerTick: 3,
    };
    try {
      const now = await redisNow(redis);
      const waited = Array.from({ length: 5 }, () => randomName('backlog'));
      for (const stream of waited) {
        await write(stream, 100, now - 121_000, ns);
        await nsQueue.add(
          FLUSH_JOB,
          { stream, gen: 0 },
          { ...FLUSH_JOB_OPTIONS, jobId: flushJobId(stream, 0), timestamp: now - 60_000 },
        );
      }
      const first = (await sweep(nsDeps)).hurried;
      expect(first).toHaveLength(3);
      const second = (await sweep(nsDeps)).hurried;
      expect([...first, ...second].sort()).toEqual(waited.map((stream) => flushJobId(stream, 0)).sort());
    } finally {
      await nsQueue.obliterate({ force: true });
      await nsQueue.close();
    }
  });

  it("dates the jobs it queues on Redis's clock: a flusher a minute behind moves none at the next tick", async () => {
    const stream = randomName('behind');
    await write(stream, 100, (await redisNow(redis)) - 61_000);
    // This process's clock a minute (FLUSH_INTERVAL) behind Redis's.
    jest.useFakeTimers({ now: Date.now() - 60_000, doNotFake: [...ONLY_THE_WALL_CLOCK] });
    try {
      expect((await sweep(deps)).enqueued).toContain(flushJobId(stream, 0));
      expect((await sweep(deps)).hurried).not.toContain(flushJobId(stream, 0));
    } finally {
      jest.useRealTimers();
    }
  });

  it('enqueues a young buffer of exactly FLUSH_THRESHOLD_BYTES', async () => {
    const stream = randomName('exact');
    await write(stream, 1025, (await redisNow(redis)) - 1_000);
    expect(await redis.strlen(streamKeys(stream, NS).buf)).toBe(config.flushThresholdBytes);
    expect((await sweep(deps)).enqueued).toContain(flushJobId(stream, 0));
  });

  /**
   * A sealed generation 0 of `stream` whose flush job is a retry due at `dueMs`, as a worker's
   * clock dated it. This file's queue has no worker: nothing moves a due job but the sweep.
   */
  async function sealedWithRetryDue(stream: string, dueMs: number): Promise<void> {
    await write(stream, 100, (await redisNow(redis)) - 1_000);
    await sealGeneration(redis, streamKeys(stream, NS), 0);
    await queue.add(
      FLUSH_JOB,
      { stream, gen: 0 },
      { ...FLUSH_JOB_OPTIONS, jobId: flushJobId(stream, 0), delay: 60_000, timestamp: dueMs - 60_000 },
    );
  }

  it("runs a retry due past FLUSH_RETRY_MAX on Redis's clock now (a worker's clock ahead dated it), and leaves one due within it", async () => {
    const now = await redisNow(redis);
    const [ahead, threeCaps, due, atCap] = ['ahead', 'threecaps', 'due', 'atcap'].map((name) =>
      randomName(name),
    ) as [string, string, string, string];
    for (const [stream, delay] of [
      [ahead, 2 * 60 * 60_000], // as a worker an hour or two ahead dates a retry
      [threeCaps, 3 * 5 * 60_000], // past twice the cap: run now too
      [due, 60_000],
      // A backoff of the cap itself (5 minutes here), from a worker a little ahead: it waits.
      [atCap, 5 * 60_000 + 1_000],
    ] as const) {
      await sealedWithRetryDue(stream, now + delay);
    }
    const result = await sweep(deps);
    expect(result.retried).toContain(flushJobId(ahead, 0));
    expect(result.retried).toContain(flushJobId(threeCaps, 0));
    expect(result.retried).not.toContain(flushJobId(due, 0));
    expect(result.retried).not.toContain(flushJobId(atCap, 0));
    expect(await (await queue.getJob(flushJobId(ahead, 0)))?.getState()).toBe('waiting');
    expect(await (await queue.getJob(flushJobId(due, 0)))?.getState()).toBe('delayed');
    expect(await (await queue.getJob(flushJobId(atCap, 0)))?.getState()).toBe('delayed');
    for (const stream of [ahead, threeCaps, due, atCap])
      await (await queue.getJob(flushJobId(stream, 0)))?.remove();
  });

  it("runs a retry overdue on Redis's clock by more than FLUSH_RETRY_MAX (a clock stepped back), and leaves one overdue by less", async () => {
    const now = await redisNow(redis);
    const [overdue, justDue, withinCap] = [
      randomName('overdue'),
      randomName('justdue'),
      randomName('withincap'),
    ];
    for (const [stream, due] of [
      // Dated by a worker whose clock was then stepped back an hour: due an hour ago, still delayed.
      [overdue, now - 60 * 60_000],
      [justDue, now - 2_000],
      // Overdue by less than FLUSH_RETRY_MAX (5 minutes here): as every retry looks where Redis's
      // clock is ahead of the flushers' by that much; its backoff stands.
      [withinCap, now - 4 * 60_000],
    ] as const) {
      await sealedWithRetryDue(stream, due);
      expect(await (await queue.getJob(flushJobId(stream, 0)))?.getState()).toBe('delayed');
    }
    const result = await sweep(deps);
    expect(result.retried).toContain(flushJobId(overdue, 0));
    expect(result.retried).not.toContain(flushJobId(justDue, 0));
    expect(result.retried).not.toContain(flushJobId(withinCap, 0));
    expect(await (await queue.getJob(flushJobId(overdue, 0)))?.getState()).toBe('waiting');
    expect(await (await queue.getJob(flushJobId(justDue, 0)))?.getState()).toBe('delayed');
    for (const stream of [overdue, justDue, withinCap])
      await (await queue.getJob(flushJobId(stream, 0)))?.remove();
  });

  it('flushes an old buffer by time only once its stream has no sealed generation waiting (an S3 outage piled one up a FLUSH_INTERVAL)', async () => {
    // FLUSH_INTERVAL 1s, and the buffer begun in this hour: past the hour's end it would be
    // sealed all the same (the next test).
    const secondly = {
      ...deps,
      config: loadConfig(flusherTestEnv({ REDIS_NAMESPACE: NS, FLUSH_INTERVAL: '1s' }), 'flusher'),
    };
    // Its hour must not end while the test runs: begun 2 s ago, and a minute of it left at least
    // (a sweep past the hour's end seals the buffer, and asks for generation 1 too).
    const intoHour = (await redisNow(redis)) % 3_600_000;
    const left = 3_600_000 - intoHour;
    const wait = intoHour < 5_000 ? 5_000 - intoHour : left < 65_000 ? left + 5_000 : 0;
    await new Promise((resolve) => setTimeout(resolve, wait));
    const now = await redisNow(redis);
    const stream = randomName('waiting');
    const keys = streamKeys(stream, NS);
    await write(stream, 100, now - 2_000);
    await sealGeneration(redis, keys, 0);
    await write(stream, 100, now - 2_000);
    // Generation 0 waits for S3; the buffer (generation 1) is old: only the waiting one is asked for.
    expect((await sweep(secondly)).enqueued.filter((id) => id.includes(stream))).toEqual([
      flushJobId(stream, 0),
    ]);
    expect(await queue.getJob(flushJobId(stream, 1))).toBeUndefined();
    // Landed: the buffer is flushed by time as before.
    expect((await flushGeneration(secondly, stream, 0)).status).toBe('uploaded');
    expect((await sweep(secondly)).enqueued.filter((id) => id.includes(stream))).toEqual([
      flushJobId(stream, 1),
    ]);
  }, 120_000); // up to 65 s waiting for the next hour

  it('flushes a buffer held behind a waiting generation all the same once its hour has ended (an object keeps to its hour= folder, which readers prune on)', async () => {
    const now = await redisNow(redis);
    const stream = randomName('held');
    await write(stream, 100, now - 61_000);
    await sealGeneration(redis, streamKeys(stream, NS), 0);
    // Begun in the hour before this one, and FLUSH_INTERVAL ago or more (aged by time): run in the
    // first minute of an hour, a buffer begun a second before it was not, and was left (a clean
    // clone's run at 06:00).
    await write(
      stream,
      100,
      Math.min(Math.floor(now / 3_600_000) * 3_600_000 - 1_000, now - config.flushIntervalMs - 1_000),
    );
    expect((await sweep(deps)).enqueued.filter((id) => id.includes(stream)).sort()).toEqual(
      [flushJobId(stream, 0), flushJobId(stream, 1)].sort(),
    );
  });

  it("flushes a shard at its share of the threshold, and reports a sharded stream's shards as one", async () => {
    const ns = randomName('ns');
    const stream = randomName('hot');
    const shardQueue = new Queue<FlushJobData>(FLUSH_QUEUE, {
      connection: queueConnection,
      prefix: queuePrefix(ns),
    });
    const shardMetrics = createFlusherMetrics();
    const shardConfig = loadConfig(
      flusherTestEnv({
        REDIS_NAMESPACE: ns,
        FLUSH_INTERVAL: '1m',
        FLUSH_THRESHOLD_BYTES: '1KiB',
        MAX_BUFFER_BYTES: '16MiB',
        STREAM_SHARDS: `${stream}:4`,
      }),
      'flusher',
    );
    try {
      const now = await redisNow(redis);
      // 401 bytes: over a shard's 256-byte share of the 1 KiB threshold, under the whole of it.
      for (const shard of [0, 2]) {
        const unit = shardUnit(stream, shard);
        await registerStream(redis, streamRegistryKey(ns), unit);
        await appendToBuffer(redis, streamKeys(unit, ns), {
          chunk: `${JSON.stringify({ pad: 'x'.repeat(390) })}\n`,
          eventCount: 1,
          maxBytes: 1e9,
          dedupeWindowMs: 0,
          clientIds: { ids: [], lines: [] },
        });
        await redis.set(streamKeys(unit, ns).since, now - 1_000);
      }
      const result = await sweep({ ...deps, config: shardConfig, queue: shardQueue, metrics: shardMetrics });
      expect(result.enqueued.sort()).toEqual(
        [flushJobId(stream, 0), flushJobId(shardUnit(stream, 2), 0)].sort(),
      );
      const text = await shardMetrics.registry.metrics();
      // Both shards' 401-byte buffers, summed under the stream.
      expect(text).toContain(`spool_buffer_bytes{stream="${stream}"} 802`);
      // Fill: the fullest shard's 401 bytes of its 4 MiB share of MAX_BUFFER_BYTES.
      expect(text).toContain(`spool_buffer_fill_ratio{stream="${stream}"} ${401 / (4 * 1024 * 1024)}`);
    } finally {
      await shardQueue.obliterate({ force: true });
      await shardQueue.close();
    }
  });

  it('reports the streams past the labels cap under _other: their bytes summed, the fill of the fullest', async () => {
    const ns = randomName('ns');
    const ownQueue = new Queue<FlushJobData>(FLUSH_QUEUE, {
      connection: queueConnection,
      prefix: queuePrefix(ns),
    });
    // One label of its own, as the 1,000th stream's successors get none.
    const ownMetrics = createFlusherMetrics(undefined, { maxStreamLabels: 1 });
    const ownConfig = loadConfig(
      flusherTestEnv({
        REDIS_NAMESPACE: ns,
        FLUSH_INTERVAL: '1m',
        FLUSH_THRESHOLD_BYTES: '1KiB',
        MAX_BUFFER_BYTES: '16MiB',
      }),
      'flusher',
    );
    const [labelled, small, large] = ['labelled', 'small', 'large'].map((name) => randomName(name)) as [
      string,
      string,
      string,
    ];
    try {
      const now = await redisNow(redis);
      for (const [stream, bytes] of [
        [labelled, 200],
        [small, 100],
        [large, 700],
      ] as const) {
        const keys = streamKeys(stream, ns);
        await registerStream(redis, streamRegistryKey(ns), stream);
        await appendToBuffer(redis, keys, {
          chunk: `${JSON.stringify({ pad: 'x'.repeat(bytes) })}\n`,
          eventCount: 1,
          maxBytes: 1e9,
          dedupeWindowMs: 0,
          clientIds: { ids: [], lines: [] },
        });
        await redis.set(keys.since, now - 1_000);
      }
      const [smallBytes, largeBytes] = [
        await redis.strlen(streamKeys(small, ns).buf),
        await redis.strlen(streamKeys(large, ns).buf),
      ];
      expect(ownMetrics.streamLabel(labelled)).toBe(labelled);

      await sweep({ ...deps, config: ownConfig, queue: ownQueue, metrics: ownMetrics });

      const text = await ownMetrics.registry.metrics();
      expect(text).toContain(`spool_buffer_bytes{stream="_other"} ${smallBytes + largeBytes}`);
      expect(text).toContain(`spool_buffer_fill_ratio{stream="_other"} ${largeBytes / (16 * 1024 * 1024)}`);
      expect(text).toContain(`spool_buffer_bytes{stream="${labelled}"} `);
    } finally {
      await ownQueue.obliterate({ force: true });
      await ownQueue.close();
    }
  });

  it('goes on past a stream it cannot read, so the streams after it are still flushed by time', async () => {
    const ns = randomName('ns');
    const [broken, old] = [randomName('broken'), randomName('old')] as [string, string];
    const ownQueue = new Queue<FlushJobData>(FLUSH_QUEUE, {
      connection: queueConnection,
      prefix: queuePrefix(ns),
    });
    const ownConfig = loadConfig(flusherTestEnv({ REDIS_NAMESPACE: ns, FLUSH_INTERVAL: '1m' }), 'flusher');
    try {
      // The broken stream first in the registry (the oldest score), its pending set a string.
      await redis.zadd(streamRegistryKey(ns), 1, broken);
      await redis.set(streamKeys(broken, ns).pending, 'not a set');
      await registerStream(redis, streamRegistryKey(ns), old);
      await appendToBuffer(redis, streamKeys(old, ns), {
        chunk: '{"a":1}\n',
        eventCount: 1,
        maxBytes: 1e9,
        dedupeWindowMs: 0,
        clientIds: { ids: [], lines: [] },
      });
      await redis.set(streamKeys(old, ns).since, (await redisNow(redis)) - 61_000);

      const result = await sweep({ ...deps, config: ownConfig, queue: ownQueue });
      expect(result.failed).toEqual([broken]);
      expect(result.enqueued).toEqual([flushJobId(old, 0)]);
    } finally {
      await ownQueue.obliterate({ force: true });
      await ownQueue.close();
    }
  });

  it('keeps the last gauges of a stream a sweep could not read, rather than drop them for a tick', async () => {
    const ns = randomName('ns');
    const [readable, broken] = [randomName('readable'), randomName('broken')] as [string, string];
    const ownQueue = new Queue<FlushJobData>(FLUSH_QUEUE, {
      connection: queueConnection,
      prefix: queuePrefix(ns),
    });
    const ownMetrics = createFlusherMetrics();
    const ownConfig = loadConfig(flusherTestEnv({ REDIS_NAMESPACE: ns, FLUSH_INTERVAL: '1h' }), 'flusher');
    const gauged = async () =>
      (await ownMetrics.bufferBytes.get()).values.map((value) => value.labels.stream).sort();
    try {
      const now = await redisNow(redis);
      for (const stream of [readable, broken]) await write(stream, 20, now, ns);
      const swept = { ...deps, config: ownConfig, queue: ownQueue, metrics: ownMetrics };
      expect((await sweep(swept)).failed).toEqual([]);
      expect(await gauged()).toEqual([readable, broken].sort());

      await redis.set(streamKeys(broken, ns).pending, 'not a set');
      expect((await sweep(swept)).failed).toEqual([broken]);
      // What it held at the last sweep that read it, not nothing: a scrape in between saw the
      // stream's series end (and the alerts on it resolve) for as long as it stayed unreadable.
      expect(await gauged()).toEqual([readable, broken].sort());
    } finally {
      await ownQueue.obliterate({ force: true });
      await ownQueue.close();
    }
  });

  it("ages buffers on Redis's clock, whatever this process's clock says", async () => {
    const stream = randomName('clock');
    await write(stream, 100, (await redisNow(redis)) - 61_000);
    // This process's clock a day behind: by it, the buffer would not be due for a day.
    jest.useFakeTimers({
      now: Date.now() - 86_400_000,
      doNotFake: [...ONLY_THE_WALL_CLOCK],
    });
    try {
      expect((await sweep(deps)).enqueued).toContain(flushJobId(stream, 0));
    } finally {
      jest.useRealTimers();
    }
  });

  it('sets sealed-bytes from the sealed keys, so a key deleted by hand does not hold the stream at its limit', async () => {
    const stream = randomName('deleted');
    const keys = streamKeys(stream, NS);
    await write(stream, 500, await redisNow(redis));
    await sealGeneration(redis, keys, 0);
    await redis.del(keys.sealed(0));

    const result = await sweep(deps);
    expect(result.reconciled).toContain(stream);
    expect(await redis.get(keys.sealedBytes)).toBeNull();
    expect(await redis.smembers(keys.pending)).toEqual([]);
    expect((await sweep(deps)).reconciled).not.toContain(stream);
  });

  it('flags a stream whose counters were lost (landed more than it accepted) for the SpoolCountersLost alert, and keeps it flagged', async () => {
    const [healthy, lost] = [randomName('healthy'), randomName('lost')] as [string, string];
    const now = await redisNow(redis);
    await write(healthy, 100, now);
    await write(lost, 100, now);
    // As after a failover to a replica that lacked the hash: the appends since count from 1,
    // while what landed before counts on.
    await redis.hset(streamKeys(lost, NS).stats, 'landed', 40);
    // Everything it accepted landed: counters that agree.
    await redis.hset(streamKeys(healthy, NS).stats, 'landed', 1);

    await sweep(deps);
    const flagged = async (stream: string) =>
      (await metrics.countersLost.get()).values.find((value) => value.labels.stream === stream)?.value;
    expect(await flagged(healthy)).toBe(0);
    expect(await flagged(lost)).toBe(1);

    // Busy again: accepted counts events in flight past those lost, and landed is below it. The
    // counters are no less wrong: the flag stays (it resolved and fired again with each flush).
    await redis.hincrby(streamKeys(lost, NS).stats, 'accepted', 500);
    await sweep(deps);
    expect(await flagged(lost)).toBe(1);
    expect(await flagged(healthy)).toBe(0);
  });

  it.each([
    [
      'an eviction policy',
      ['--maxmemory-policy', 'allkeys-lru', '--appendonly', 'yes'],
      { eviction: 1, aof_off: 0 },
    ],
    ['AOF off', ['--maxmemory-policy', 'noeviction', '--appendonly', 'no'], { eviction: 0, aof_off: 1 }],
  ])(
    'says of a Redis with %s what loses events, for the SpoolRedisEvicting alert',
    async (_name, settings, expected) => {
      // A Redis of its own: the shared one's settings are not this test's to change.
      const dir = mkdtempSync(join(tmpdir(), 'spool-at-risk-'));
      const port = await freePort();
      const server = startRedisServer('at-risk', port, dir, settings);
      const own = new Redis(port, '127.0.0.1');
      const ownMetrics = createFlusherMetrics();
      try {
        await sweep({ ...deps, redis: own, metrics: ownMetrics });
        const values = (await ownMetrics.redisAtRisk.get()).values;
        expect(Object.fromEntries(values.map((value) => [value.labels.reason, value.value]))).toEqual(
          expected,
        );
      } finally {
        own.disconnect();
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('forgets a stream idle past the horizon, and keeps one that holds data or was registered since', async () => {
    const [idle, busy, recent, quarantined] = ['idle', 'busy', 'recent', 'quarantined'].map((name) =>
      randomName(name),
    ) as [string, string, string, string];
    const now = await redisNow(redis);
    const longAgo = now - streamForgetAfterMs(config.flushIntervalMs) - 1_000;
    await redis.zadd(registry, longAgo, idle);
    // What a stream flushed long ago still keeps, and a dedupe set of a window still open.
    const idleKeys = streamKeys(idle, NS);
    await redis.set(idleKeys.gen, '3');
    await redis.set(idleKeys.sealedBytes, '0');
    await redis.hset(idleKeys.stats, 'accepted', '5', 'landed', '5', 'lastObject', 'k');
    // The age of a quarantine whose entries landed, left by a flusher killed before it deleted it.
    await redis.set(idleKeys.quarantineSince, String(longAgo));
    const dedupeSet = `${idleKeys.seen}:600000:1`;
    await redis.sadd(dedupeSet, 'm-1');
    await redis.pexpire(dedupeSet, 60_000);
    await write(busy, 100, now);
    await redis.zadd(registry, longAgo, busy);
    await redis.zadd(registry, now, recent);
    // Idle, but it keeps rejected events for S3: not forgotten while they wait.
    await redis.hset(streamKeys(quarantined, NS).stats, 'accepted', '1');
    await recordRejected(
      redis,
      streamKeys(quarantined, NS),
      { count: 1, entries: ['{"code":"SPOOL_INVALID_JSON"}'], stored: false },
      1_000,
    );
    await redis.zadd(registry, longAgo, quarantined);

    const result = await sweep(deps);
    expect(result.forgotten).toContain(idle);
    expect(result.forgotten).not.toContain(busy);
    expect(result.forgotten).not.toContain(recent);
    expect(result.forgotten).not.toContain(quarantined);
    expect(await redis.zscore(registry, idle)).toBeNull();
    expect(await redis.zscore(registry, busy)).not.toBeNull();
    // Forgotten, it keeps its generation number (never used twice) and what expires by itself
    // (a client's retry is still caught).
    expect(await redis.exists(idleKeys.sealedBytes, idleKeys.stats, idleKeys.quarantineSince)).toBe(0);
    expect(await redis.get(idleKeys.gen)).toBe('3');
    expect(await redis.exists(dedupeSet)).toBe(1);
    const busyKeys = streamKeys(busy, NS);
    expect(await redis.exists(busyKeys.buf, busyKeys.stats)).toBe(2);
  });

  it('asks Redis to forget only the idle streams whose registration, as the scan read it, is past the horizon', async () => {
    const ns = randomName('ns');
    const nsRegistry = streamRegistryKey(ns);
    const now = await redisNow(redis);
    const recent = Array.from({ length: 20 }, () => randomName('recent'));
    for (const stream of recent) await redis.zadd(nsRegistry, now, stream);
    const old = randomName('old');
    await redis.zadd(nsRegistry, now - streamForgetAfterMs(config.flushIntervalMs) - 1_000, old);
    // The real script on the real Redis, counted on its way.
    const asked: string[] = [];
    const counting = createTestRedis();
    defineSpoolCommands(counting);
    const forget = counting.spoolForgetStream.bind(counting);
    counting.spoolForgetStream = ((registryKey: string, stream: string, cutoff: number) => {
      asked.push(stream);
      return forget(registryKey, stream, cutoff);
    }) as typeof counting.spoolForgetStream;
    try {
      const nsConfig = { ...config, namespace: ns };
      const result = await sweep({ ...deps, config: nsConfig, redis: counting });
      expect(result.forgotten).toEqual([old]);
      expect(asked).toEqual([old]);
      expect(await redis.zcard(nsRegistry)).toBe(20);
    } finally {
      await counting.quit();
      await redis.del(nsRegistry);
    }
  });

  it('keeps a stream idle past the horizon while a sealed generation of it waits to land', async () => {
    const stream = randomName('sealed');
    const keys = streamKeys(stream, NS);
    await write(stream, 100, await redisNow(redis));
    // Sealed, its upload failing for longer than the horizon (S3 down): the buffer is empty.
    await sealGeneration(redis, keys, 0);
    const longAgo = (await redisNow(redis)) - streamForgetAfterMs(config.flushIntervalMs) - 1_000;
    await redis.zadd(registry, longAgo, stream);

    expect((await sweep(deps)).forgotten).not.toContain(stream);
    expect(await redis.zscore(registry, stream)).not.toBeNull();
  });

  it('keeps a stream idle past the horizon while its manifest lines cannot be written', async () => {
    const stream = randomName('lines');
    const keys = streamKeys(stream, NS);
    await redis.hset(keys.manifestPending, `events/stream=${stream}/x.ndjson.gz`, '{"key":"x"}');
    const longAgo = (await redisNow(redis)) - streamForgetAfterMs(config.flushIntervalMs) - 1_000;
    await redis.zadd(registry, longAgo, stream);
    // A bucket that does not exist: the lines' write fails, as in an S3 outage.
    const outage = { ...config, s3: { ...config.s3, bucket: randomName('no-bucket') } };

    expect((await sweep({ ...deps, config: outage })).forgotten).not.toContain(stream);
    expect(await redis.zscore(registry, stream)).not.toBeNull();
    expect(await redis.exists(keys.manifestPending, keys.manifestDraining)).toBe(1);
  });

  it('stops trying manifest writes for the tick once S3 has refused a few in a row, backs each stream off, and writes every line once S3 takes them', async () => {
    const ns = randomName('ns');
    // A tick of 30 s: a stream whose write failed once tries again at the next tick, 15 s on,
    // past the time these sweeps take on a loaded runner.
    const nsConfig = { ...config, namespace: ns, flushIntervalMs: 10 * 60_000 };
    const now = await redisNow(redis);
    const streams = Array.from({ length: 50 }, () => randomName('lines'));
    for (const stream of streams) {
      const key = `events/stream=${stream}/dt=2026-12-07/hour=08/${stream}-20261207T080000000Z-1.ndjson.gz`;
      await redis.hset(streamKeys(stream, ns).manifestPending, key, JSON.stringify({ key, generation: 1 }));
      await redis.zadd(streamRegistryKey(ns), now, stream);
    }
    // A bucket that does not exist: every write refused, as in an S3 outage.
    const outage = { ...nsConfig, s3: { ...nsConfig.s3, bucket: randomName('no-bucket') } };
    const refused = await sweep({ ...deps, config: outage });
    // Tries stop at the third refusal in a row; those already in flight (the sweep's concurrency) end.
    expect(refused.sideFilesDeferred).toBeGreaterThanOrEqual(
      streams.length - SWEEP_CONCURRENCY - SIDE_FILE_FAILURES_PER_TICK,
    );
    const tried = streams.length - refused.sideFilesDeferred;
    for (const stream of streams) {
      const keys = streamKeys(stream, ns);
      expect(await redis.exists(keys.manifestPending, keys.manifestDraining)).toBe(1);
    }
    // At once, S3 back: the streams tried wait in their backoff, the others are written.
    const early = await sweep({ ...deps, config: nsConfig });
    expect([early.sideFilesDeferred, early.manifestLines]).toEqual([tried, streams.length - tried]);
    // Past it (as if the tick had come), the rest.
    for (const stream of streams) {
      const { stats } = streamKeys(stream, ns);
      if (await redis.hexists(stats, 'manifestRetryAt')) await redis.hset(stats, 'manifestRetryAt', '0');
    }
    expect((await sweep({ ...deps, config: nsConfig })).manifestLines).toBe(tried);
    for (const stream of streams) {
      const keys = streamKeys(stream, ns);
      expect(await redis.exists(keys.manifestPending, keys.manifestDraining)).toBe(0);
      expect(await redis.hget(keys.stats, 'manifestRetryAt')).toBeNull();
    }
    await redis.del(streamRegistryKey(ns));
  });

  it("writes every other stream's manifest lines while the writes of streams first in the scan always fail", async () => {
    const ns = randomName('ns');
    // A tick of 30 s: the failing ones wait 15 s, past these sweeps on a loaded runner.
    const nsConfig = { ...config, namespace: ns, flushIntervalMs: 10 * 60_000 };
    const now = await redisNow(redis);
    const line = (prefix: string, stream: string) => {
      const key = `${prefix}stream=${stream}/dt=2026-12-07/hour=08/${stream}-20261207T080000000Z-1.ndjson.gz`;
      return [key, JSON.stringify({ key, generation: 1 })] as const;
    };
    // More than the sweep's concurrency whose parts S3 refuses (an empty path segment: the
    // stand-in refuses such keys, as MinIO does), registered first, so scanned first.
    const failing = Array.from({ length: SWEEP_CONCURRENCY + 8 }, () => randomName('refused'));
    const healthy = Array.from({ length: 20 }, () => randomName('lines'));
    for (const [index, stream] of failing.entries()) {
      await redis.hset(streamKeys(stream, ns).manifestPending, ...line('refused//', stream));
      await redis.zadd(streamRegistryKey(ns), now - 60_000 + index, stream);
    }
    for (const stream of healthy) {
      await redis.hset(streamKeys(stream, ns).manifestPending, ...line('events/', stream));
      await redis.zadd(streamRegistryKey(ns), now, stream);
    }
    let written = 0;
    for (let tick = 0; tick < 5 && written < healthy.length; tick += 1) {
      written += (await sweep({ ...deps, config: nsConfig })).manifestLines;
    }
    expect(written).toBe(healthy.length);
    for (const stream of healthy) {
      expect(await redis.exists(streamKeys(stream, ns).manifestPending)).toBe(0);
    }
    for (const stream of failing) {
      const keys = streamKeys(stream, ns);
      expect(await redis.exists(keys.manifestPending, keys.manifestDraining)).toBe(1);
    }
    await redis.del(streamRegistryKey(ns));
  });

  it.each([
    ['the stream set', (stream: string) => redis.sadd(legacyRegistryKeys(NS).streams, stream)],
    // Registered long ago there: moved at the sweep's time, so a registration an older ingest
    // makes meanwhile cannot be lost to the old score and the stream forgotten.
    [
      'the registry outside the queue slot',
      (stream: string) => redis.zadd(legacyRegistryKeys(NS).registry, 1, stream),
    ],
  ])(
    'moves %s of earlier versions into the registry, so their buffers are still flushed',
    async (_, register) => {
      const stream = randomName('legacy');
      const keys = streamKeys(stream, NS);
      await appendToBuffer(redis, keys, {
        chunk: '{"a":1}\n',
        eventCount: 1,
        maxBytes: 1e9,
        dedupeWindowMs: 0,
        clientIds: { ids: [], lines: [] },
      });
      const now = await redisNow(redis);
      await redis.set(keys.since, now - 61_000);
      await register(stream);

      expect((await sweep(deps)).enqueued).toContain(flushJobId(stream, 0));
      const { registry: oldRegistry, streams: oldSet } = legacyRegistryKeys(NS);
      expect(await redis.exists(oldSet, oldRegistry)).toBe(0);
      expect(Number(await redis.zscore(registry, stream))).toBeGreaterThanOrEqual(now);
    },
  );

  it('deletes the flush error older flushers recorded once it is as old as a forgotten stream, never a newer one', async () => {
    const key = legacyLastFlushErrorKey(NS);
    const record = (at: number) =>
      JSON.stringify({
        type: 'Error',
        message: 'S3 was away',
        stream: 'web',
        at: new Date(at).toISOString(),
      });
    const now = await redisNow(redis);
    await redis.set(key, record(now - 1_000));
    await sweep(deps);
    expect(await redis.exists(key)).toBe(1);
    await redis.set(key, record(now - streamForgetAfterMs(config.flushIntervalMs) - 60_000));
    await sweep(deps);
    expect(await redis.exists(key)).toBe(0);
  });

  it('flushes a buffer whose start time is missing instead of leaving it for ever', async () => {
    const stream = randomName('nosince');
    await write(stream, 100, await redisNow(redis));
    await redis.del(streamKeys(stream, NS).since);
    expect((await sweep(deps)).enqueued).toContain(flushJobId(stream, 0));
  });

  it('retries a flush job that failed for good', async () => {
    const stream = randomName('failed');
    await write(stream, 100, await redisNow(redis));
    await sealGeneration(redis, streamKeys(stream, NS), 0);
    const job = await queue.add(
      FLUSH_JOB,
      { stream, gen: 0 },
      { ...FLUSH_JOB_OPTIONS, jobId: flushJobId(stream, 0) },
    );
    // A worker that fails it for good, as an UnrecoverableError in the flusher would.
    const workerConnection = createTestRedis({ maxRetriesPerRequest: null });
    const worker = new Worker(
      FLUSH_QUEUE,
      async () => {
        throw new UnrecoverableError('simulated');
      },
      { connection: workerConnection, prefix: queuePrefix(NS) },
    );
    await waitFor(async () => ((await job.isFailed()) ? true : undefined), 10_000, 'the job to fail');
    await worker.close();
    await workerConnection.quit();

    const result = await sweep(deps);
    expect(result.retried).toContain(flushJobId(stream, 0));
    expect(await (await queue.getJob(flushJobId(stream, 0)))?.getState()).toBe('waiting');
  });

  it('writes a quarantine to S3 once it holds half of QUARANTINE_MAX_EVENTS (1,000 by default)', async () => {
    const stream = randomName('bad');
    const keys = streamKeys(stream, NS);
    await registerStream(redis, registry, stream);
    await redis.hset(keys.stats, 'accepted', '1');
    await rejectEvents(keys, 499);
    expect((await sweep(deps)).quarantined).toEqual([]);
    await rejectEvents(keys, 1);
    const [key] = (await sweep(deps)).quarantined;
    expect(key).toMatch(new RegExp(`^_quarantine/stream=${stream}/dt=`));
    expect(await redis.exists(keys.quarantine)).toBe(0);
  });

  it("writes a stream's quarantine while its manifest writes keep failing (each kind backs off alone), and forgets a backoff once nothing of its kind waits", async () => {
    const ns = randomName('ns');
    const nsConfig = { ...config, namespace: ns, flushIntervalMs: 10 * 60_000 };
    const stream = randomName('half');
    const keys = streamKeys(stream, ns);
    await redis.zadd(streamRegistryKey(ns), await redisNow(redis), stream);
    await redis.hset(keys.stats, 'accepted', '1');
    // A manifest line S3 refuses (its part under a prefix with an empty segment, which the
    // stand-in refuses as MinIO does), and a quarantine due to be written (half of 1,000 entries).
    const object = `refused//stream=${stream}/dt=2026-12-07/hour=08/${stream}-20261207T080000000Z-1.ndjson.gz`;
    await redis.hset(keys.manifestPending, object, JSON.stringify({ key: object, generation: 1 }));
    await rejectEvents(keys, 500);
    const first = await sweep({ ...deps, config: nsConfig });
    expect(first.quarantined).toEqual([expect.stringMatching(new RegExp(`^_quarantine/stream=${stream}/`))]);
    expect(await redis.hget(keys.stats, 'manifestFailures')).toBe('1');
    expect(await redis.hget(keys.stats, 'quarantineFailures')).toBeNull();
    // Later rejected events, while the manifest waits in its backoff: written too.
    await rejectEvents(keys, 500);
    const second = await sweep({ ...deps, config: nsConfig });
    expect(second.quarantined).toHaveLength(1);
    expect(second.sideFilesDeferred).toBe(1);
    // The line gone (a flush wrote the day's lines itself, say): the backoff is forgotten.
    await redis.del(keys.manifestPending, keys.manifestDraining, keys.manifestDrainingId);
    await sweep({ ...deps, config: nsConfig });
    expect(await redis.hmget(keys.stats, 'manifestFailures', 'manifestRetryAt')).toEqual([null, null]);
    await redis.del(streamRegistryKey(ns));
  });

  it('says a quarantine it cannot write once per cause and 10 s, not once per stream and tick', async () => {
    const ns = randomName('ns');
    const lines: Array<{ msg: string; stream?: string }> = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()));
          done();
        },
      }),
    );
    // S3 away: nothing listens there.
    const away = new S3Client({
      endpoint: `http://127.0.0.1:${await freePort()}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
    });
    const awayDeps = { ...deps, s3: away, logger, config: { ...config, namespace: ns } };
    try {
      for (const stream of [randomName('q'), randomName('q'), randomName('q')]) {
        const keys = streamKeys(stream, ns);
        await registerStream(redis, streamRegistryKey(ns), stream);
        await redis.hset(keys.stats, 'accepted', '1');
        await rejectEvents(keys, 1);
        // Kept past FLUSH_INTERVAL: due to be written.
        await redis.set(keys.quarantineSince, '0');
      }
      await sweep(awayDeps);
      await sweep(awayDeps);
      // Six failed writes: one line (a flood of 626 lines in 30 s for 20 streams before).
      expect(lines.filter((line) => line.msg.startsWith('could not write the quarantine'))).toHaveLength(1);
    } finally {
      away.destroy();
    }
  });

  it('runs often enough to keep FLUSH_INTERVAL within a quarter, between 1 s and 30 s', () => {
    expect(sweepEveryMs(300_000)).toBe(30_000);
    expect(sweepEveryMs(60_000)).toBe(15_000);
    expect(sweepEveryMs(2_000)).toBe(1_000);
  });
});

describe('the sweep over many streams', () => {
  it('visits each stream of several registry pages once (concurrently), and begins none once stopped', async () => {
    const ns = randomName('ns');
    const manyQueue = new Queue<FlushJobData>(FLUSH_QUEUE, {
      connection: queueConnection,
      prefix: queuePrefix(ns),
    });
    const manyDeps = { ...deps, queue: manyQueue, config: { ...config, namespace: ns } };
    try {
      const now = await redisNow(redis);
      // 1,200 streams, each with a buffer past FLUSH_INTERVAL: ZSCAN hands them out in pages.
      const streams = Array.from({ length: 1_200 }, (_, i) => `many-${i}`);
      for (const stream of streams) await write(stream, 50, now - 61_000, ns);

      // Shutting down: not one stream is begun, and the result says it stopped early.
      const stop = new AbortController();
      stop.abort();
      const stopped = await sweep(manyDeps, stop.signal);
      expect(stopped).toMatchObject({ complete: false, streams: 0, enqueued: [] });
      expect(await manyQueue.count()).toBe(0);

      const result = await sweep(manyDeps);
      expect(result.complete).toBe(true);
      expect(result.streams).toBe(streams.length);
      expect(result.enqueued.sort()).toEqual(streams.map((stream) => flushJobId(stream, 0)).sort());
      expect(result.failed).toEqual([]);
    } finally {
      await manyQueue.obliterate({ force: true });
      await manyQueue.close();
    }
  });
});
