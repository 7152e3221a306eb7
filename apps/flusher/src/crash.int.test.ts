import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from '@jest/globals';
import { addFlushJob, FLUSH_QUEUE, queuePrefix, streamKeys } from '@spool/shared';
import {
  createTestRedis,
  createTestS3,
  flusherTestEnv,
  listObjectKeys,
  listOpenUploads,
  randomName,
  readSpoolObject,
  saveObject,
  sendRawHttp,
  spawnService,
  testServices,
  waitFor,
  waitUntilLanded,
} from '@spool/testkit';
import { duckdbQuery } from '@spool/testkit/duckdb';
import { S3FaultProxy } from '@spool/testkit/local-stack';
import { Queue } from 'bullmq';
import { fillBuffer } from '../test/support.js';

const FLUSHER_MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const MiB = 1024 * 1024;
const services = testServices();
/** This file's own namespace: flushers of other test files never see its queue or streams. */
const NS = randomName('ns');
const redis = createTestRedis();
const s3 = createTestS3();
const queueConnection = createTestRedis();
const queue = new Queue(FLUSH_QUEUE, { connection: queueConnection, prefix: queuePrefix(NS) });

afterAll(async () => {
  await queue.close();
  await queueConnection.quit();
  await redis.quit();
  s3.destroy();
  rmSync(SCRATCH, { recursive: true, force: true });
});

async function objectExists(key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({ Bucket: services.s3.bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

/** A flusher of this file's namespace writing under `prefix`, logging each step (`env` adds to it). */
const flusherEnv = (prefix: string, env: Record<string, string> = {}) =>
  flusherTestEnv({ REDIS_NAMESPACE: NS, S3_PREFIX: prefix, LOG_LEVEL: 'info', ...env });

/** Waits for the flusher's "uploading generation" log line and returns the object key it names. */
async function uploadStarted(output: () => string, stream: string): Promise<string> {
  return waitFor(
    async () => {
      for (const line of output().split('\n')) {
        if (line.includes('"uploading generation"') && line.includes(stream))
          return JSON.parse(line).key as string;
      }
      return undefined;
    },
    30_000,
    'the upload to start',
  );
}

/**
 * The flushers' $TMPDIR here: their own, since any process that stages a Parquet generation in
 * a directory removes what dead flushers left there (other test files' flushers among them).
 */
const SCRATCH = mkdtempSync(join(tmpdir(), 'crash-scratch-'));

/** The scratch directories of the flusher process `pid` (staged Parquet generations). */
const stagedBy = (pid: number) =>
  readdirSync(SCRATCH).filter((name) => name.startsWith(`spool-flush-${pid}-`));

/** The messageIds in an object, in order: its lines, or (Parquet) its rows as DuckDB reads them. */
async function objectIds(key: string): Promise<string[]> {
  if (!key.endsWith('.parquet')) {
    return (await readSpoolObject(s3, services.s3.bucket, key)).lines.map(
      (line) => JSON.parse(line).messageId,
    );
  }
  const file = join(mkdtempSync(join(tmpdir(), 'crash-test-')), 'object.parquet');
  await saveObject(s3, services.s3.bucket, key, file);
  try {
    return (await duckdbQuery(`SELECT messageId FROM read_parquet('${file}')`)).map((row) =>
      String(row.messageId),
    );
  } finally {
    rmSync(dirname(file), { recursive: true, force: true });
  }
}

async function expectLandedOnce(stream: string, prefix: string, ids: string[]): Promise<void> {
  const keys = streamKeys(stream, NS);
  await waitUntilLanded(redis, [stream], { namespace: NS, timeoutMs: 60_000 });
  const objects = await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=${stream}/`);
  expect(objects).toHaveLength(1);
  expect(await objectIds(objects[0] as string)).toEqual(ids);
  expect(await redis.exists(keys.sealed(0), keys.sealedMeta(0), keys.buf)).toBe(0);
  expect(await redis.smembers(keys.pending)).toEqual([]);
  expect(await redis.get(keys.sealedBytes)).toBe('0');
  expect(await redis.hgetall(keys.stats)).toMatchObject({
    accepted: String(ids.length),
    landed: String(ids.length),
  });
}

describe('a flusher that dies', () => {
  it.each(['ndjson.gz', 'parquet'])(
    'killed -9 in the middle of a multipart upload (%s): the restarted flusher uploads the generation once, losing and doubling nothing',
    async (format) => {
      const stream = randomName('crash');
      const prefix = `${randomName('crash')}/`;
      const ids = await fillBuffer(redis, streamKeys(stream, NS), 40 * MiB, { random: true });
      const env = flusherEnv(prefix, { FLUSH_LOCK_DURATION: '2s', OUTPUT_FORMAT: format, TMPDIR: SCRATCH });

      // The first flusher reaches S3 through a proxy that holds its first part: killed then, it
      // is certainly in the middle of its multipart upload, however fast the upload would be.
      const proxy = await S3FaultProxy.start(services.s3.endpoint);
      const first = await spawnService(FLUSHER_MAIN, {
        ...env,
        S3_ENDPOINT: proxy.endpoint,
      });
      try {
        const heldPart = proxy.holdNextUploadPart(60_000);
        await addFlushJob(queue, stream, 0);
        expect(await heldPart).toBeDefined();
        await first.stop('SIGKILL');
      } finally {
        await proxy.close();
      }
      const key = await uploadStarted(first.output, stream);

      // Killed mid-upload: the object is not there, the sealed generation and the open upload are.
      expect(await objectExists(key)).toBe(false);
      expect(await redis.strlen(streamKeys(stream, NS).sealed(0))).toBeGreaterThanOrEqual(40 * MiB);
      expect(await listOpenUploads(s3, services.s3.bucket, prefix)).toEqual([key]);
      // A Parquet flush's staged files, left on disk by the kill.
      if (format === 'parquet') expect(stagedBy(first.pid)).toHaveLength(1);

      const second = await spawnService(FLUSHER_MAIN, env);
      try {
        await expectLandedOnce(stream, prefix, ids);
        expect(second.output()).toContain('"status":"resealed"');
        // The restarted flusher aborted the dead one's upload before uploading again.
        expect(second.output()).toContain('"aborted":1');
        expect(await listOpenUploads(s3, services.s3.bucket, prefix)).toEqual([]);
        // Whatever the dead flusher left on disk was removed by the next one to make a scratch directory.
        expect(stagedBy(first.pid)).toEqual([]);
      } finally {
        await second.stop();
      }
    },
    // Above its own waits (the held part's 60 s, the start's 30, the landing's 60): a loaded run
    // of the Parquet case took 54 s of Jest's default 60.
    180_000,
  );

  it('with no writable $TMPDIR: lands an NDJSON generation whole, its output held nowhere but in the parts', async () => {
    const stream = randomName('nodisk');
    const prefix = `${randomName('nodisk')}/`;
    // Random data compresses little: 40 MiB of it makes 8 parts of 5 MiB.
    const ids = await fillBuffer(redis, streamKeys(stream, NS), 40 * MiB, { random: true });
    const flusher = await spawnService(
      FLUSHER_MAIN,
      flusherEnv(prefix, { S3_PART_SIZE: '5MiB', TMPDIR: '/nonexistent/spool-test' }),
    );
    try {
      await addFlushJob(queue, stream, 0);
      await expectLandedOnce(stream, prefix, ids);
      expect(flusher.output()).toMatch(/"readPasses":2/);
    } finally {
      await flusher.stop();
    }
  });

  it('stopped with SIGTERM in the middle of a flush: finishes the upload in hand, then exits 0', async () => {
    const stream = randomName('term');
    const prefix = `${randomName('term')}/`;
    const ids = await fillBuffer(redis, streamKeys(stream, NS), 24 * MiB, { random: true });
    // Its first part is held at a proxy until the flusher has taken the SIGTERM: the upload is
    // certainly in hand when the shutdown begins.
    const proxy = await S3FaultProxy.start(services.s3.endpoint);
    const flusher = await spawnService(FLUSHER_MAIN, flusherEnv(prefix, { S3_ENDPOINT: proxy.endpoint }));
    try {
      const heldPart = proxy.holdNextUploadPart(60_000);
      await addFlushJob(queue, stream, 0);
      const part = await heldPart;
      expect(part).toBeDefined();
      const stopped = flusher.stop('SIGTERM');
      await waitFor(
        async () => (flusher.output().includes('"msg":"shutting down"') ? true : undefined),
        30_000,
        'the flusher to take the SIGTERM',
      );
      part?.release();
      expect(await stopped).toBe(0);
    } finally {
      await proxy.close();
    }
    const key = await uploadStarted(flusher.output, stream);
    expect(await objectExists(key)).toBe(true);
    expect(await listOpenUploads(s3, services.s3.bucket, prefix)).toEqual([]);
    expect(flusher.output()).toContain('"msg":"generation uploaded"');
    await expectLandedOnce(stream, prefix, ids);
  });

  it('stopped with SIGTERM while a client holds half a request to its HTTP server: cuts it and exits 0', async () => {
    const flusher = await spawnService(FLUSHER_MAIN, flusherEnv(`${randomName('held')}/`));
    const held = await sendRawHttp(flusher.url, 'GET /metrics HTTP/1.1\r\nHost: x\r\n');
    // Read by the server before it is told to stop: else the close drops it as idle, and the test
    // would pass without testing anything.
    await held.readByServer();

    const code = await flusher.stop('SIGTERM');
    await held.closed;

    // Without the cut, the process waited on it until its shutdown grace ran out and exited 1.
    expect(code).toBe(0);
    expect(held.answer()).toBe('');
  });
});
