import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from '@jest/globals';
import type { Redis } from 'ioredis';
import { abortStaleUploads, PART_BYTES, uploadSealed } from './upload.js';

/**
 * The multipart clean-up paths, which the s3rver stand-in cannot show (it implements neither
 * ListMultipartUploads nor keeps parts visible): an S3 client that records the commands it is
 * sent and fails the ones it is told to. The integration tests cover the real uploads.
 */
function recordingS3(fail: (command: object) => Error | undefined) {
  const sent: object[] = [];
  const client = {
    config: { requestChecksumCalculation: async () => 'WHEN_REQUIRED' },
    send: async (command: object) => {
      sent.push(command);
      const error = fail(command);
      if (error) throw error;
      if (command instanceof CreateMultipartUploadCommand) return { UploadId: 'upload-1' };
      if (command instanceof UploadPartCommand) return { ETag: '"etag"' };
      if (command instanceof ListMultipartUploadsCommand) {
        return {
          Uploads: [
            { Key: 'a/b.ndjson.gz', UploadId: 'stale-1' },
            { Key: 'a/b.ndjson.gz.other', UploadId: 'not-ours' },
            { Key: 'a/b.ndjson.gz', UploadId: 'stale-2' },
          ],
        };
      }
      return {};
    },
  };
  return { client: client as unknown as S3Client, sent };
}

/** A Redis stand-in serving GETRANGE from memory (no server is needed for these paths). */
function memoryRedis(content: Buffer): Redis {
  return {
    getrangeBuffer: async (_key: string, start: number, end: number) => content.subarray(start, end + 1),
  } as unknown as Redis;
}

describe('uploadSealed', () => {
  it('aborts the multipart upload when S3 fails a part, leaving no parts behind', async () => {
    // Incompressible, so gzip output passes one part and the upload goes multipart.
    const content = randomBytes(3 * PART_BYTES);
    const { client, sent } = recordingS3((command) =>
      command instanceof UploadPartCommand ? new Error('S3 is down') : undefined,
    );
    await expect(
      uploadSealed(memoryRedis(content), 'sealed', content.length, { s3: client, bucket: 'b', key: 'k' }, {}),
    ).rejects.toThrow();
    const aborts = sent.filter((command) => command instanceof AbortMultipartUploadCommand);
    expect(aborts).toHaveLength(1);
    expect((aborts[0] as AbortMultipartUploadCommand).input).toMatchObject({
      Bucket: 'b',
      Key: 'k',
      UploadId: 'upload-1',
    });
  });
});

describe('abortStaleUploads', () => {
  it('aborts the uploads an earlier attempt left open for exactly this key', async () => {
    const { client, sent } = recordingS3(() => undefined);
    expect(await abortStaleUploads({ s3: client, bucket: 'b', key: 'a/b.ndjson.gz' })).toBe(2);
    const aborted = sent
      .filter((command) => command instanceof AbortMultipartUploadCommand)
      .map((command) => (command as AbortMultipartUploadCommand).input.UploadId);
    expect(aborted).toEqual(['stale-1', 'stale-2']);
  });

  it('carries on when the store does not support listing multipart uploads', async () => {
    const { client } = recordingS3((command) =>
      command instanceof ListMultipartUploadsCommand ? new Error('NotImplemented') : undefined,
    );
    expect(await abortStaleUploads({ s3: client, bucket: 'b', key: 'k' })).toBe(0);
  });
});
