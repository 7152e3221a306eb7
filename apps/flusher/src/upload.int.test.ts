import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestS3, randomName, testServices } from '@spool/testkit';
import { S3FaultProxy } from '@spool/testkit/local-stack';
import { uploadBody } from './upload.js';

const services = testServices();
let proxy: S3FaultProxy;

beforeAll(async () => {
  proxy = await S3FaultProxy.start(services.s3.endpoint);
});
afterAll(async () => {
  await proxy.close();
});

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
});
