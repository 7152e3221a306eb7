import { AbortMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from '@jest/globals';
import { recordingS3, s3Error } from '../test/recording-s3.js';
import { abortStaleUploads } from './stale-uploads.js';

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

  it('fails on credentials S3 refuses (a 403 that names no missing permission), so the flush is retried naming them', async () => {
    for (const name of [
      'InvalidAccessKeyId',
      'SignatureDoesNotMatch',
      'RequestTimeTooSkewed',
      'ExpiredToken',
    ]) {
      const { client } = recordingS3((command) =>
        command instanceof ListMultipartUploadsCommand ? s3Error(name, 403) : undefined,
      );
      await expect(abortStaleUploads({ s3: client, bucket: 'b', key: 'a/b.ndjson.gz' })).rejects.toThrow(
        name,
      );
    }
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

  it('carries on, saying so, when the credentials may not abort multipart uploads', async () => {
    // Before, every retry of the flush failed there, its generation sealed, for as long as that lasted.
    const denied = recordingS3((command) =>
      command instanceof AbortMultipartUploadCommand ? s3Error('AccessDenied', 403) : undefined,
    );
    expect(await abortStaleUploads({ s3: denied.client, bucket: 'b', key: 'a/b.ndjson.gz' })).toEqual({
      aborted: 0,
      skipped: 'abort not permitted',
    });
  });
});
