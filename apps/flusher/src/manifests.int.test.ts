import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  defineSpoolCommands,
  loadConfig,
  pinDestination,
  releaseGeneration,
  sealGeneration,
  shardUnit,
  startDrain,
  streamKeys,
} from '@spool/shared';
import { createTestRedis, createTestS3, flusherTestEnv, randomName, testServices } from '@spool/testkit';
import { S3FaultProxy } from '@spool/testkit/local-stack';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { fillBuffer } from '../test/support.js';
import { flushGeneration } from './flush-generation.js';
import { dayOfKey, type ManifestLine, readManifest, writeManifestPart } from './manifests.js';
import { createFlusherMetrics } from './metrics.js';
import { sweep } from './sweep.js';

const { s3: services } = testServices();
const redis = createTestRedis();
defineSpoolCommands(redis);
const s3 = createTestS3();
const queueConnection = createTestRedis();

afterAll(async () => {
  await redis.quit();
  await queueConnection.quit();
  s3.destroy();
});

function deps(prefix: string, env: Record<string, string> = {}, logLines?: string[]) {
  const config = loadConfig(flusherTestEnv({ S3_PREFIX: prefix, ...env }), 'flusher');
  const logger = logLines
    ? pino({ level: 'info' }, { write: (line: string) => logLines.push(line) })
    : pino({ level: 'silent' });
  return { config, redis, s3, logger, metrics: createFlusherMetrics() };
}

async function manifestOf(prefix: string, stream: string, day: string): Promise<ManifestLine[]> {
  return [...(await readManifest(s3, services.bucket, prefix, stream, day)).values()].sort((a, b) =>
    a.key < b.key ? -1 : 1,
  );
}

/**
 * Lands generations 0 and 1 of `stream` (`bytes` each), dated from the first one's start (one
 * day's manifest even across midnight); `afterEach` runs after each flush. Their object keys.
 */
async function flushGenerations(
  prefix: string,
  stream: string,
  bytes: number,
  afterEach: () => Promise<unknown> = async () => {},
): Promise<string[]> {
  const keys = streamKeys(stream);
  const since = Date.now();
  const landed: string[] = [];
  for (const gen of [0, 1]) {
    await fillBuffer(redis, keys, bytes);
    await redis.set(keys.since, String(since + gen));
    const outcome = await flushGeneration(deps(prefix), stream, gen);
    if (outcome.status !== 'uploaded') throw new Error('nothing uploaded');
    landed.push(outcome.key);
    await afterEach();
  }
  return landed;
}

describe('manifests', () => {
  it('put a line beside its object, under the prefix the object kept from its first attempt, after S3_PREFIX changed', async () => {
    const [before, after] = [`${randomName('before')}/`, `${randomName('after')}/`];
    const stream = randomName('moved');
    const keys = streamKeys(stream);
    await fillBuffer(redis, keys, 1024);
    // The first attempt (a flusher since gone) sealed it and pinned its destination; then S3_PREFIX changed.
    await sealGeneration(redis, keys, 0);
    await pinDestination(redis, keys, 0, { bucket: services.bucket, prefix: before });
    const logLines: string[] = [];
    const outcome = await flushGeneration(deps(after, {}, logLines), stream, 0);
    if (outcome.status !== 'uploaded') throw new Error('nothing uploaded');
    // The operator who changed S3_PREFIX is told why this object is not under the new one.
    const warnings = logLines.map((line) => JSON.parse(line)).filter((line) => line.level === 40);
    expect(warnings).toEqual([
      expect.objectContaining({
        stream,
        gen: 0,
        pinnedBucket: services.bucket,
        pinnedPrefix: before,
        msg: expect.stringContaining(
          'the generation goes where its first attempt went, not to S3_BUCKET and S3_PREFIX',
        ),
      }),
    ]);

    expect(outcome.key.startsWith(`${before}stream=${stream}/`)).toBe(true);
    const day = dayOfKey(outcome.key);
    expect((await manifestOf(before, stream, day)).map((line) => line.key)).toEqual([outcome.key]);
    expect(await manifestOf(after, stream, day)).toEqual([]);
  });

  it("give each object one line in its day's manifest, matching the object's own metadata", async () => {
    const prefix = `${randomName('manifest')}/`;
    const stream = randomName('web');
    const landed = await flushGenerations(prefix, stream, 64 * 1024);
    // The same generation flushed again (a retry after a crash) adds no line.
    await flushGeneration(deps(prefix), stream, 1);

    const day = dayOfKey(landed[0] as string);
    const lines = await manifestOf(prefix, stream, day);
    expect(lines.map((line) => line.key)).toEqual([...landed].sort());
    for (const line of lines) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: services.bucket, Key: line.key }));
      const object = await s3.send(new GetObjectCommand({ Bucket: services.bucket, Key: line.key }));
      const bytes = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
      expect(line).toEqual({
        key: line.key,
        generation: Number(head.Metadata?.['spool-generation']),
        shard: 0,
        format: 'ndjson.gz',
        events: Number(head.Metadata?.['spool-events']),
        bytes: head.ContentLength,
        rawBytes: Number(head.Metadata?.['spool-raw-bytes']),
        sha256: head.Metadata?.['spool-sha256'],
        objectSha256: createHash('sha256').update(bytes).digest('hex'),
        firstReceivedAt: head.Metadata?.['spool-first-received-at'],
        lastReceivedAt: head.Metadata?.['spool-last-received-at'],
      });
    }
    expect(await redis.hlen(streamKeys(stream).manifestPending)).toBe(0);
  });

  it("keep their lines when S3 answers the part's PutObject 200 with an error: the sweep writes them", async () => {
    const proxy = await S3FaultProxy.start(services.endpoint);
    const proxied = createTestS3({ ...testServices(), s3: { ...services, endpoint: proxy.endpoint } });
    const prefix = `${randomName('manifest')}/`;
    const namespace = randomName('ns');
    const stream = randomName('web');
    const keys = streamKeys(stream, namespace);
    const logLines: string[] = [];
    try {
      await fillBuffer(redis, keys, 4 * 1024);
      // The object's own PutObject goes through; the manifest part's is answered 200 with an
      // <Error> body and a newline, which the SDK takes for success.
      proxy.set('putErrorIn200');
      proxy.putErrorMatches = (_method, url) => url.pathname.includes('/_manifests/');
      const flushed = await flushGeneration(
        { ...deps(prefix, { REDIS_NAMESPACE: namespace }, logLines), s3: proxied },
        stream,
        0,
      );
      if (flushed.status !== 'uploaded') throw new Error('nothing uploaded');
      expect(proxy.faulted).toBeGreaterThan(0);
      expect(logLines.join('\n')).toContain('could not write the manifest yet; the sweep will');
      // Taken for written, its lines were deleted: the day's manifest lacked the object for good.
      const day = dayOfKey(flushed.key);
      expect(await manifestOf(prefix, stream, day)).toEqual([]);
      proxy.set('none');
      const queue = new Queue('flush', { connection: queueConnection, prefix: `{${namespace}}` });
      try {
        const result = await sweep({ ...deps(prefix, { REDIS_NAMESPACE: namespace }), queue });
        expect(result.manifestLines).toBe(1);
      } finally {
        await queue.close();
      }
      expect((await manifestOf(prefix, stream, day)).map((line) => line.key)).toEqual([flushed.key]);
    } finally {
      proxied.destroy();
      await proxy.close();
    }
  });

  it('are written by the sweep when the flusher died before its manifest part was written', async () => {
    const prefix = `${randomName('manifest')}/`;
    const namespace = randomName('ns');
    const stream = randomName('web');
    const keys = streamKeys(stream, namespace);
    await fillBuffer(redis, keys, 4 * 1024);
    await sealGeneration(redis, keys, 0);
    const key = `${prefix}stream=${stream}/dt=2026-12-01/hour=10/${stream}-20261201T100000000Z-0.ndjson.gz`;
    const line: ManifestLine = {
      key,
      generation: 0,
      shard: 0,
      format: 'ndjson.gz',
      events: 1,
      bytes: 40,
      rawBytes: 60,
      sha256: 'a'.repeat(64),
      firstReceivedAt: '2026-12-01T10:00:00.000Z',
      lastReceivedAt: '2026-12-01T10:00:00.000Z',
    };
    // What a flusher killed in the middle of writing its manifest part leaves: the line out of
    // service (being written), no part in S3.
    await releaseGeneration(redis, keys, 0, 1, { key, manifestLine: JSON.stringify(line) });
    expect(await startDrain(redis, keys, 'manifest')).toMatch(/^1:\d+$/);
    expect(await redis.hlen(keys.manifestPending)).toBe(0);
    expect(await manifestOf(prefix, stream, '2026-12-01')).toEqual([]);

    const queue = new Queue('flush', { connection: queueConnection, prefix: `{${namespace}}` });
    try {
      const result = await sweep({
        ...deps(prefix, { REDIS_NAMESPACE: namespace }),
        queue,
      });
      expect(result.manifestLines).toBe(1);
    } finally {
      await queue.close();
    }
    expect(await manifestOf(prefix, stream, '2026-12-01')).toEqual([line]);
    expect(await redis.exists(keys.manifestPending, keys.manifestDraining, keys.manifestDrainingId)).toBe(0);
  });

  it('write each part with its lines sorted by object key, as output.md says', async () => {
    const key = `${randomName('manifest')}/part.ndjson`;
    const line = (name: string): ManifestLine => ({
      key: name,
      generation: 0,
      shard: 0,
      format: 'ndjson.gz',
      events: 1,
      bytes: 1,
      rawBytes: 1,
      sha256: 'x',
      firstReceivedAt: '2026-12-06T00:00:00.000Z',
      lastReceivedAt: '2026-12-06T00:00:00.000Z',
    });
    await writeManifestPart(s3, services.bucket, key, [line('c'), line('a'), line('b')]);
    const answer = await s3.send(new GetObjectCommand({ Bucket: services.bucket, Key: key }));
    const text = (await answer.Body?.transformToString()) ?? '';
    expect(
      text
        .trimEnd()
        .split('\n')
        .map((entry) => JSON.parse(entry).key),
    ).toEqual(['a', 'b', 'c']);
  });

  it("lose no line when the stream's counters are lost (a failover): the drain count starts again", async () => {
    const prefix = `${randomName('manifest')}/`;
    const stream = randomName('web');
    // As a failover to a replica that lacked the hash does: the next drain counts from 1 again.
    const landed = await flushGenerations(prefix, stream, 4 * 1024, () =>
      redis.del(streamKeys(stream).stats),
    );
    const lines = await manifestOf(prefix, stream, dayOfKey(landed[0] as string));
    expect(lines.map((line) => line.key)).toEqual([...landed].sort());
  });

  it("lose no line when a stream's shards land at once: each writes parts of its own", async () => {
    const prefix = `${randomName('manifest')}/`;
    const stream = randomName('hot');
    // A namespace of its own: the sweep below visits every stream of its namespace.
    const namespace = randomName('ns');
    const env = { STREAM_SHARDS: `${stream}:4`, REDIS_NAMESPACE: namespace };
    const units = [0, 1, 2, 3].map((shard) => shardUnit(stream, shard));
    const since = Date.now(); // every shard in one day's manifest, even across midnight
    for (const unit of units) {
      await fillBuffer(redis, streamKeys(unit, namespace), 16 * 1024);
      await redis.set(streamKeys(unit, namespace).since, String(since));
    }
    const outcomes = await Promise.all(units.map((unit) => flushGeneration(deps(prefix, env), unit, 0)));
    const keys = outcomes.flatMap((outcome) => (outcome.status === 'uploaded' ? [outcome.key] : []));
    expect(keys).toHaveLength(4);
    // (A sweep writes whatever a flush could not.)
    const queue = new Queue('flush', { connection: queueConnection, prefix: `{${namespace}}` });
    try {
      await sweep({ ...deps(prefix, env), queue });
    } finally {
      await queue.close();
    }
    const lines = await manifestOf(prefix, stream, dayOfKey(keys[0] as string));
    expect(lines.map((line) => line.key)).toEqual([...keys].sort());
    expect(lines.map((line) => line.shard).sort()).toEqual([0, 1, 2, 3]);
    // Each object names its shard (shard 0 none), which spool verify and replay check its key by.
    const shards = [];
    for (const key of keys) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: services.bucket, Key: key }));
      shards.push(head.Metadata?.['spool-shard'] ?? 'none');
    }
    expect(shards.sort()).toEqual(['1', '2', '3', 'none']);
  });
});
