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
 * The multipart clean-up paths when S3 fails at a chosen step, which a real store shows only by
 * chance: an S3 client that records the commands it is sent and fails the ones it is told to.
 * The integration tests (crash.int.test.ts) and the chaos suite cover the real uploads and aborts.
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

/** An error shaped as the AWS SDK throws them: a name (the S3 error code) and the HTTP status. */
function s3Error(name: string, httpStatusCode: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode } });
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
    expect(await abortStaleUploads({ s3: client, bucket: 'b', key: 'a/b.ndjson.gz' })).toEqual({
      aborted: 2,
    });
    const aborted = sent
      .filter((command) => command instanceof AbortMultipartUploadCommand)
      .map((command) => (command as AbortMultipartUploadCommand).input.UploadId);
    expect(aborted).toEqual(['stale-1', 'stale-2']);
  });

  it('carries on when the store does not implement listing multipart uploads', async () => {
    const { client } = recordingS3((command) =>
      command instanceof ListMultipartUploadsCommand ? s3Error('NotImplemented', 501) : undefined,
    );
    expect(await abortStaleUploads({ s3: client, bucket: 'b', key: 'k' })).toEqual({
      aborted: 0,
      skipped: 'not implemented',
    });
  });

  it('carries on, saying so, when the credentials may not list multipart uploads', async () => {
    const { client } = recordingS3((command) =>
      command instanceof ListMultipartUploadsCommand ? s3Error('AccessDenied', 403) : undefined,
    );
    expect(await abortStaleUploads({ s3: client, bucket: 'b', key: 'k' })).toEqual({
      aborted: 0,
      skipped: 'not permitted',
    });
  });

  it('fails (so the flush is retried) when the listing fails for any other reason', async () => {
    const { client } = recordingS3((command) =>
      command instanceof ListMultipartUploadsCommand ? s3Error('ServiceUnavailable', 503) : undefined,
    );
    await expect(abortStaleUploads({ s3: client, bucket: 'b', key: 'a/b.ndjson.gz' })).rejects.toThrow(
      'ServiceUnavailable',
    );
  });

  it('fails when an abort fails, but not when the upload is already gone', async () => {
    const failing = recordingS3((command) =>
      command instanceof AbortMultipartUploadCommand ? s3Error('InternalError', 500) : undefined,
    );
    await expect(
      abortStaleUploads({ s3: failing.client, bucket: 'b', key: 'a/b.ndjson.gz' }),
    ).rejects.toThrow('InternalError');
    const gone = recordingS3((command) =>
      command instanceof AbortMultipartUploadCommand ? s3Error('NoSuchUpload', 404) : undefined,
    );
    expect(await abortStaleUploads({ s3: gone.client, bucket: 'b', key: 'a/b.ndjson.gz' })).toEqual({
      aborted: 0,
    });
  });
});
