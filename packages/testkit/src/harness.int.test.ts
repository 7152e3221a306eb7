import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createTestRedis, createTestS3 } from './clients.js';
import { testServices } from './env.js';
import { randomName } from './names.js';

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
});
