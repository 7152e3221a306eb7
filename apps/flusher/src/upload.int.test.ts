import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineSpoolCommands, loadConfig, streamKeys } from '@spool/shared';
import {
  createTestRedis,
  createTestS3,
  flusherTestEnv,
  listObjectKeys,
  randomName,
  readSpoolObject,
  testServices,
} from '@spool/testkit';
import { S3FaultProxy } from '@spool/testkit/local-stack';
import { pino } from 'pino';
import { fillBuffer } from '../test/support.js';
import { flushGeneration } from './flush-generation.js';
import { createFlusherMetrics } from './metrics.js';
import { uploadBody } from './upload.js';

const services = testServices();
let proxy: S3FaultProxy;

beforeAll(async () => {
  proxy = await S3FaultProxy.start(services.s3.endpoint);
});
afterAll(async () => {
  await proxy.close();
  await redis.quit();
  store.destroy();
});
const redis = createTestRedis();
defineSpoolCommands(redis);
/** The store itself, not through the proxy. */
const store = createTestS3();

/**
 * A 12 MiB generation of events that barely compress (three 5 MiB parts), and a flusher's deps
 * whose S3 goes through the fault proxy.
 */
async function throughProxy(name: string, logger = pino({ level: 'silent' })) {
  const prefix = `${randomName(name)}/`;
  const stream = randomName('web');
  const ids = await fillBuffer(redis, streamKeys(stream), 12 * 1024 * 1024, { random: true });
  const config = loadConfig(
    flusherTestEnv({ S3_PREFIX: prefix, S3_ENDPOINT: proxy.endpoint, S3_PART_SIZE: '5MiB' }),
    'flusher',
  );
  const s3 = createTestS3({ ...services, s3: { ...services.s3, endpoint: proxy.endpoint } });
  return { prefix, stream, ids, s3, deps: { config, redis, s3, logger, metrics: createFlusherMetrics() } };
}

describe('uploadBody', () => {
  it("fails with S3's own answer when S3 refuses a part, not with the AbortError of the body it stopped reading", async () => {
    const s3 = createTestS3({ ...services, s3: { ...services.s3, endpoint: proxy.endpoint } });
    proxy.set('denyUploadParts');
    try {
      // Three parts of 5 MiB, two in flight: the refused part's uploader stops the body the other waits on.
      const pieces = Array.from({ length: 12 }, () => randomBytes(1024 * 1024));
      const failure = await uploadBody(
        { s3, bucket: services.s3.bucket, key: `${randomName('refused')}.ndjson.gz` },
        { pieces, contentType: 'application/gzip', metadata: {} },
        5 * 1024 * 1024,
      ).then(
        () => undefined,
        (error: unknown) => error as { name: string; $metadata?: { httpStatusCode?: number } },
      );
      expect(proxy.faulted).toBeGreaterThan(0);
      expect({ name: failure?.name, status: failure?.$metadata?.httpStatusCode }).toEqual({
        name: 'AccessDenied',
        status: 403,
      });
    } finally {
      proxy.set('none');
      s3.destroy();
    }
  });

  it('lands the object, and says which uploads it left open, when the clean-up after a CreateMultipartUpload sent again cannot list them', async () => {
    const logLines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => logLines.push(line) });
    const { stream, ids, s3, deps } = await throughProxy('left-open', logger);
    proxy.set('loseCreateUploadAnswer');
    proxy.thenFailListings = true;
    let key: string;
    try {
      const flushed = await flushGeneration(deps, stream, 0);
      if (flushed.status !== 'uploaded') throw new Error(`nothing uploaded: ${flushed.status}`);
      key = flushed.key;
      expect(proxy.fault).toBe('failUploadListings');
      expect(proxy.faulted).toBeGreaterThan(0);
    } finally {
      proxy.set('none');
      s3.destroy();
    }
    const landed = await readSpoolObject(store, services.s3.bucket, key);
    expect(landed.lines.map((line) => (JSON.parse(line) as { messageId: string }).messageId)).toEqual(ids);
    // Said, not swallowed: the upload S3 began for the lost answer stays open, the lifecycle rule's.
    const warning = logLines.map((line) => JSON.parse(line)).find((line) => line.level === 40);
    expect(warning).toMatchObject({
      key,
      msg: 'could not abort the multipart uploads S3 began for a CreateMultipartUpload sent again: they are left to the bucket lifecycle rule',
      err: expect.objectContaining({ name: 'SlowDown' }),
    });
    const open = await store.send(
      new ListMultipartUploadsCommand({ Bucket: services.s3.bucket, Prefix: key }),
    );
    expect(open.Uploads?.length).toBe(1);
    for (const upload of open.Uploads ?? []) {
      await store.send(
        new AbortMultipartUploadCommand({ Bucket: services.s3.bucket, Key: key, UploadId: upload.UploadId }),
      );
    }
  });

  it('leaves no multipart upload open when the answer to its CreateMultipartUpload was lost and the SDK sent it again', async () => {
    const s3 = createTestS3({ ...services, s3: { ...services.s3, endpoint: proxy.endpoint } });
    const key = `${randomName('created-twice')}.ndjson.gz`;
    proxy.set('loseCreateUploadAnswer');
    try {
      const pieces = Array.from({ length: 12 }, () => randomBytes(1024 * 1024));
      const uploaded = await uploadBody(
        { s3, bucket: services.s3.bucket, key },
        { pieces, contentType: 'application/gzip', metadata: {} },
        5 * 1024 * 1024,
      );
      // The answer was lost (the fault is spent), and the object is whole.
      expect(proxy.fault).toBe('none');
      expect(uploaded.compressedBytes).toBe(12 * 1024 * 1024);
      const head = await store.send(new HeadObjectCommand({ Bucket: services.s3.bucket, Key: key }));
      expect(head.ContentLength).toBe(12 * 1024 * 1024);
      const open = await store.send(
        new ListMultipartUploadsCommand({ Bucket: services.s3.bucket, Prefix: key }),
      );
      expect(open.Uploads ?? []).toEqual([]);
    } finally {
      proxy.set('none');
      s3.destroy();
    }
  });

  it('fails, and the flush keeps its generation, when S3 answers the completion 200 with an error the SDK takes for success', async () => {
    const { stream, ids, s3, deps, prefix } = await throughProxy('complete200');
    proxy.set('completeErrorIn200');
    try {
      await expect(flushGeneration(deps, stream, 0)).rejects.toMatchObject({ name: 'NoObjectConfirmed' });
      expect(proxy.faulted).toBeGreaterThan(0);
      expect(await listObjectKeys(store, services.s3.bucket, `${prefix}stream=`)).toEqual([]);
      // Kept: the retry lands every event once.
      proxy.set('none');
      const retried = await flushGeneration(deps, stream, 0);
      if (retried.status !== 'uploaded') throw new Error(`the retry did not upload: ${retried.status}`);
      const landed = await readSpoolObject(store, services.s3.bucket, retried.key);
      expect(landed.lines.map((line) => (JSON.parse(line) as { messageId: string }).messageId)).toEqual(ids);
    } finally {
      proxy.set('none');
      s3.destroy();
    }
  });
});
