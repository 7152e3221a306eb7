import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createTestRedis, createTestS3 } from './clients.js';
import { testServices } from './env.js';
import { S3FaultProxy } from './local-stack/s3-fault-proxy.js';
import { randomName } from './names.js';
import { listOpenUploads } from './s3-objects.js';

const MiB = 1024 * 1024;

describe('the integration-test harness', () => {
  const services = testServices();
  const redis = createTestRedis({}, services);
  const s3 = createTestS3(services);

  afterAll(async () => {
    await redis.quit();
    s3.destroy();
  });

  it('gives a Redis in which APPEND returns the new length of the string', async () => {
    const key = `${randomName('harness')}:buf`;
    expect(await redis.append(key, 'hello\n')).toBe(6);
    expect(await redis.append(key, 'wörld\n')).toBe(6 + Buffer.byteLength('wörld\n'));
    expect(await redis.strlen(key)).toBe(13);
    await redis.unlink(key);
  });

  it('gives an S3 that takes a 12 MiB stream as a multipart upload and returns it byte-identical', async () => {
    const payload = randomBytes(12 * MiB);
    const key = `${randomName('harness')}/multipart.bin`;
    // Fed as a stream of 1 MiB chunks, as the flusher will feed gzip output.
    const chunks = Array.from({ length: 12 }, (_, i) => payload.subarray(i * MiB, (i + 1) * MiB));
    const partsSeen = new Set<number>();
    const upload = new Upload({
      client: s3,
      params: { Bucket: services.s3.bucket, Key: key, Body: Readable.from(chunks) },
      partSize: 5 * MiB,
      queueSize: 2,
    });
    upload.on('httpUploadProgress', (progress) => {
      if (progress.part !== undefined) partsSeen.add(progress.part);
    });
    await upload.done();

    expect(partsSeen.size).toBe(3);
    const object = await s3.send(new GetObjectCommand({ Bucket: services.s3.bucket, Key: key }));
    const body = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
    expect(body.length).toBe(payload.length);
    expect(createHash('sha256').update(body).digest('hex')).toBe(
      createHash('sha256').update(payload).digest('hex'),
    );
  });

  it("has an S3 fault proxy that holds the next part of a multipart upload, naming the sender's app id", async () => {
    const proxy = await S3FaultProxy.start(services.s3.endpoint);
    const client = new S3Client({
      endpoint: proxy.endpoint,
      region: services.s3.region,
      credentials: services.s3.credentials,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      // What AWS_SDK_UA_APP_ID sets, as the local stack does for each flusher.
      userAgentAppId: 'flusher-7',
    });
    try {
      // Nothing sent: the watch gives up.
      expect(await proxy.holdNextUploadPart(50)).toBeUndefined();

      const key = `${randomName('harness')}/held.bin`;
      const payload = randomBytes(11 * MiB);
      const held = proxy.holdNextUploadPart(30_000);
      const upload = new Upload({
        client,
        params: { Bucket: services.s3.bucket, Key: key, Body: Readable.from([payload]) },
        partSize: 5 * MiB,
        queueSize: 1,
      }).done();
      const part = await held;
      expect(part?.appId).toBe('flusher-7');
      // Held: the upload is open and cannot finish until the part goes on.
      expect((await listOpenUploads(s3, services.s3.bucket, key)).length).toBe(1);
      part?.release();
      await upload;
      expect(await listOpenUploads(s3, services.s3.bucket, key)).toEqual([]);
      const object = await s3.send(new GetObjectCommand({ Bucket: services.s3.bucket, Key: key }));
      expect(Buffer.from((await object.Body?.transformToByteArray()) ?? []).equals(payload)).toBe(true);
    } finally {
      client.destroy();
      await proxy.close();
    }
  });
});
