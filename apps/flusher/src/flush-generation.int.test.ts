import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  appendToBuffer,
  defineSpoolCommands,
  loadConfig,
  pinDestination,
  releaseGeneration,
  sealGeneration,
  streamKeys,
} from '@spool/shared';
import {
  createTestRedis,
  createTestS3,
  flusherTestEnv,
  listObjectKeys,
  randomName,
  readSpoolObject,
  testServices,
} from '@spool/testkit';
import { pino } from 'pino';
import { fillBuffer } from '../test/support.js';
import { flushGeneration } from './flush-generation.js';
import { createFlusherMetrics } from './metrics.js';

const services = testServices();
const redis = createTestRedis();
defineSpoolCommands(redis);
const s3 = createTestS3();
afterAll(async () => {
  await redis.quit();
  s3.destroy();
});

function deps(prefix: string, env: Record<string, string> = {}, logLines: string[] = []) {
  const config = loadConfig(flusherTestEnv({ S3_PREFIX: prefix, ...env }), 'flusher');
  const logger = pino({ level: 'info' }, { write: (line: string) => logLines.push(line) });
  return { config, redis, s3, logger, metrics: createFlusherMetrics() };
}

/** This process's scratch directories: a flush removes its own when done. */
const ownScratch = () =>
  readdirSync(tmpdir()).filter((name) => name.startsWith(`spool-flush-${process.pid}-`));

describe('flushGeneration', () => {
  it('run by several workers at once for one generation, writes one object under one key and counts events once', async () => {
    const stream = randomName('race');
    const prefix = `${randomName('race')}/`;
    const ids = await fillBuffer(redis, streamKeys(stream), 3 * 1024 * 1024);

    // One set of metrics, as the flushers' sums across processes are read.
    const shared = deps(prefix);
    const outcomes = await Promise.all(Array.from({ length: 4 }, () => flushGeneration(shared, stream, 0)));

    const uploadedKeys = new Set(
      outcomes.flatMap((outcome) => (outcome.status === 'uploaded' ? [outcome.key] : [])),
    );
    expect(uploadedKeys.size).toBe(1);
    const objects = await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=`);
    expect(objects).toEqual([...uploadedKeys]);
    const object = await readSpoolObject(s3, services.s3.bucket, objects[0] as string);
    expect(object.lines.map((line) => JSON.parse(line).messageId)).toEqual(ids);
    expect(await redis.hgetall(streamKeys(stream).stats)).toMatchObject({
      accepted: String(ids.length),
      landed: String(ids.length),
      lastObject: objects[0],
    });
    const metrics = await shared.metrics.registry.metrics();
    expect(metrics).toContain(`spool_flush_events_total{stream="${stream}"} ${ids.length}\n`);
    expect(metrics).toContain(`spool_flush_objects_total{stream="${stream}"} 1\n`);
  });

  it.each([
    ['ndjson.gz', 'compresses well', false, 24],
    ['ndjson.gz', 'compresses little, into several parts', true, 32],
    ['ndjson.zst', 'compresses well', false, 24],
    ['ndjson.zst', 'compresses little, into several parts', true, 32],
  ])(
    'with OUTPUT_FORMAT=%s, a buffer that %s lands whole with its metadata: summarized, then read again and compressed into the upload',
    async (format, _name, random, mebibytes) => {
      const stream = randomName('pass');
      const prefix = `${randomName('pass')}/`;
      const ids = await fillBuffer(redis, streamKeys(stream), mebibytes * 1024 * 1024, { random });
      const logLines: string[] = [];
      const env = { S3_PART_SIZE: '5MiB', OUTPUT_FORMAT: `${stream}:${format}` };
      const outcome = await flushGeneration(deps(prefix, env, logLines), stream, 0);

      expect(outcome).toMatchObject({ status: 'uploaded', events: ids.length });
      const uploading = logLines
        .map((line) => JSON.parse(line))
        .find((l) => l.msg === 'uploading generation');
      expect(uploading).toMatchObject({ readPasses: 2 });
      expect(ownScratch()).toEqual([]);
      const [key] = await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=`);
      expect(key?.endsWith(`-0.${format}`)).toBe(true);
      // readSpoolObject decodes the first zstd frame only: every event is there when it is one.
      const object = await readSpoolObject(s3, services.s3.bucket, key as string);
      expect(object.lines.map((line) => JSON.parse(line).messageId)).toEqual(ids);
      expect(object.contentType).toBe(format === 'ndjson.gz' ? 'application/gzip' : 'application/zstd');
      expect(object.metadata['spool-events']).toBe(String(ids.length));
      expect(object.metadata['spool-sha256']).toBe(createHash('sha256').update(object.raw).digest('hex'));
      expect(object.metadata['spool-raw-bytes']).toBe(String(object.raw.length));
    },
  );

  it('uploads nothing until REDIS_MIN_REPLICAS_ACK replicas hold the seal: the generation waits, sealed, for a retry', async () => {
    const stream = randomName('replicas');
    const prefix = `${randomName('replicas')}/`;
    const keys = streamKeys(stream);
    const ids = await fillBuffer(redis, keys, 64 * 1024);
    // The test's Redis has no replica: the WAIT after the seal counts none. Uploaded from the
    // master alone, a generation a failover then lost from Redis landed twice once its clients
    // sent its events again (a review's run).
    await expect(
      flushGeneration(deps(prefix, { REDIS_MIN_REPLICAS_ACK: '1' }), stream, 0),
    ).rejects.toMatchObject({ name: 'ReplicaAckError', confirmed: 0, wanted: 1 });
    expect(await listObjectKeys(s3, services.s3.bucket, prefix)).toEqual([]);
    expect(await redis.smembers(keys.pending)).toEqual(['0']);
    expect(await redis.exists(keys.sealed(0))).toBe(1);
    // Once the replicas are there (here: none asked for), the retry lands it, once.
    const retried = await flushGeneration(deps(prefix), stream, 0);
    if (retried.status !== 'uploaded') throw new Error(`the retry did not upload: ${retried.status}`);
    const landed = await readSpoolObject(s3, services.s3.bucket, retried.key);
    expect(landed.lines.map((line) => (JSON.parse(line) as { messageId: string }).messageId)).toEqual(ids);
  });

  it('writes a generation in the format recorded at its seal, whatever OUTPUT_FORMAT says at the retry', async () => {
    const stream = randomName('format');
    const prefix = `${randomName('format')}/`;
    await fillBuffer(redis, streamKeys(stream), 64 * 1024);
    // An attempt sealed it for zstd, then crashed; the flusher that retries is configured for gzip.
    expect(await sealGeneration(redis, streamKeys(stream), 0, 'ndjson.zst')).toMatchObject({
      format: 'ndjson.zst',
    });
    const outcome = await flushGeneration(deps(prefix, { OUTPUT_FORMAT: 'ndjson.gz' }), stream, 0);
    expect(outcome).toMatchObject({ status: 'uploaded' });
    expect(await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=`)).toEqual([
      expect.stringMatching(/-0\.ndjson\.zst$/),
    ]);
  });

  it('writes under the bucket and prefix of the first attempt, whatever S3_PREFIX says at the retry', async () => {
    const stream = randomName('moved');
    const [first, later] = [`${randomName('first')}/`, `${randomName('later')}/`];
    const keys = streamKeys(stream);
    await fillBuffer(redis, keys, 16 * 1024);
    // What an attempt that uploaded under `first` and died before its release leaves in Redis.
    await sealGeneration(redis, keys, 0);
    expect(await pinDestination(redis, keys, 0, { bucket: services.s3.bucket, prefix: first })).toEqual({
      bucket: services.s3.bucket,
      prefix: first,
    });
    // The retry runs with another S3_PREFIX: still one object, where the first attempt put it.
    expect(await flushGeneration(deps(later), stream, 0)).toMatchObject({ status: 'uploaded' });
    expect(await listObjectKeys(s3, services.s3.bucket, `${first}stream=`)).toHaveLength(1);
    expect(await listObjectKeys(s3, services.s3.bucket, `${later}stream=`)).toEqual([]);
    // Released: nothing is pinned again for it.
    expect(await pinDestination(redis, keys, 0, { bucket: 'b', prefix: later })).toBeUndefined();
    expect(await redis.exists(keys.sealedMeta(0))).toBe(0);
  });

  it('ends as nothing to do, uploading nothing, when another flusher releases the generation while this one reads it', async () => {
    const stream = randomName('taken');
    const prefix = `${randomName('taken')}/`;
    const keys = streamKeys(stream);
    const ids = await fillBuffer(redis, keys, 64 * 1024);
    // Another flusher (this one's lock lost in a pause) lands and releases the generation just as
    // this one has summarized it and pinned its destination: before its upload's read.
    const racing = new Proxy(redis, {
      get(target, name, receiver) {
        if (name !== 'spoolPinDestination') return Reflect.get(target, name, receiver);
        return async (...args: Parameters<typeof redis.spoolPinDestination>) => {
          const pinned = await target.spoolPinDestination(...args);
          await releaseGeneration(target, keys, 0, ids.length);
          return pinned;
        };
      },
    });
    const logLines: string[] = [];
    const outcome = await flushGeneration({ ...deps(prefix, {}, logLines), redis: racing }, stream, 0);

    // Before: the read's length check threw, and the job was retried as a failure.
    expect(outcome).toEqual({ status: 'nothing' });
    expect(await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=`)).toEqual([]);
    expect(logLines.join('')).toContain('generation released by another flusher while this one read it');
  });

  it('fails, to be retried, when S3 fails and Redis cannot say whether another flusher released the generation', async () => {
    const stream = randomName('unsure');
    const keys = streamKeys(stream);
    await fillBuffer(redis, keys, 64 * 1024);
    // Redis gone just as the failed upload asks whether the generation is still pending.
    const away = new Proxy(redis, {
      get(target, name, receiver) {
        if (name !== 'sismember') return Reflect.get(target, name, receiver);
        return async () => {
          throw new Error('Connection is closed.');
        };
      },
    });
    const unreachable = new S3Client({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      forcePathStyle: true,
      maxAttempts: 1,
    });
    try {
      const flushing = flushGeneration(
        { ...deps(`${randomName('unsure')}/`), redis: away, s3: unreachable },
        stream,
        0,
      );
      // Taken for released (nothing to do), the job would end and its generation wait for the sweep.
      await expect(flushing).rejects.toThrow(/ECONNREFUSED|connect/);
      expect(await redis.smembers(keys.pending)).toEqual(['0']);
    } finally {
      unreachable.destroy();
    }
  });

  it('sends a generation first tried to a bucket that does not exist to S3_BUCKET, once corrected', async () => {
    const stream = randomName('typo');
    const prefix = `${randomName('typo')}/`;
    const keys = streamKeys(stream);
    const ids = await fillBuffer(redis, keys, 16 * 1024);
    // The first attempt, with S3_BUCKET mistyped: refused, and the generation pinned to that bucket.
    const missing = randomName('no-such-bucket');
    await expect(flushGeneration(deps(prefix, { S3_BUCKET: missing }), stream, 0)).rejects.toThrow();
    expect(await redis.hget(keys.sealedMeta(0), 'bucket')).toBe(missing);

    // The setting corrected: nothing can be in a bucket that does not exist, so it lands there.
    const logLines: string[] = [];
    expect(await flushGeneration(deps(prefix, {}, logLines), stream, 0)).toMatchObject({
      status: 'uploaded',
      events: ids.length,
    });
    const [key, ...others] = await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=`);
    expect(others).toEqual([]);
    const object = await readSpoolObject(s3, services.s3.bucket, key as string);
    expect(object.lines.map((line) => JSON.parse(line).messageId)).toEqual(ids);
    expect(logLines.join('')).toContain("the bucket of the generation's first attempt does not exist");
  });

  it('lands a sealed generation whose metadata hash is gone (deleted by hand, or evicted)', async () => {
    const stream = randomName('nometa');
    const prefix = `${randomName('nometa')}/`;
    const ids = await fillBuffer(redis, streamKeys(stream), 64 * 1024);
    await sealGeneration(redis, streamKeys(stream), 0);
    await redis.del(streamKeys(stream).sealedMeta(0));
    // Before: taken for released ('nothing') on every attempt, the generation held for ever.
    expect(await flushGeneration(deps(prefix), stream, 0)).toMatchObject({
      status: 'uploaded',
      events: ids.length,
    });
    expect(await redis.exists(streamKeys(stream).sealed(0))).toBe(0);
    expect(await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=`)).toHaveLength(1);
  });

  it('lands a buffer written by hand: a last line without its newline, a receivedAt no S3 header can carry', async () => {
    const stream = randomName('byhand');
    const prefix = `${randomName('byhand')}/`;
    const keys = streamKeys(stream);
    const lines = [
      Buffer.from('{"messageId":"m1","receivedAt":"2026-01-01T00:00:00.000Z"}\n'),
      // Bytes that are no UTF-8, where the server writes its ISO time: refused in a metadata
      // header on every attempt before.
      Buffer.concat([
        Buffer.from('{"messageId":"m2","receivedAt":"2026'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}\n'),
      ]),
      // No "\n": counted 0 events alone, and released with no object.
      Buffer.from('{"messageId":"m3","receivedAt":"2026-01-01T00:00:01.000Z"}'),
    ];
    await redis.set(keys.buf, Buffer.concat(lines));
    expect(await flushGeneration(deps(prefix), stream, 0)).toMatchObject({ status: 'uploaded', events: 3 });
    const [key] = await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=`);
    const object = await readSpoolObject(s3, services.s3.bucket, key as string);
    expect(object.lines.map((line) => JSON.parse(line).messageId)).toEqual(['m1', 'm2', 'm3']);
    // Alone, too: the one line without its newline is the object.
    await redis.set(keys.buf, '{"messageId":"m4","receivedAt":"2026-01-01T00:00:02.000Z"}');
    expect(await flushGeneration(deps(prefix), stream, 1)).toMatchObject({ status: 'uploaded', events: 1 });
  });

  it('does nothing for a generation already uploaded, and never writes an empty object', async () => {
    const stream = randomName('none');
    const prefix = `${randomName('none')}/`;
    expect(await flushGeneration(deps(prefix), stream, 0)).toEqual({ status: 'nothing' });
    await appendToBuffer(redis, streamKeys(stream), {
      chunk: '{"receivedAt":"2026-01-01T00:00:00.000Z","messageId":"a"}\n',
      eventCount: 1,
      maxBytes: 1e6,
      dedupeWindowMs: 0,
      clientIds: { ids: [], lines: [] },
    });
    expect(await flushGeneration(deps(prefix), stream, 0)).toMatchObject({ status: 'uploaded', events: 1 });
    expect(await flushGeneration(deps(prefix), stream, 0)).toEqual({ status: 'nothing' });
    expect(await flushGeneration(deps(prefix), stream, 1)).toEqual({ status: 'nothing' });
    expect(await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=`)).toHaveLength(1);
  });
});
