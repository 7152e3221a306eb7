import { randomBytes } from 'node:crypto';
import { AbortMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from '@jest/globals';
import { recordingS3 } from '../test/recording-s3.js';
import { uploadBody } from './upload.js';

const PART_BYTES = 5 * 1024 * 1024;

describe('uploadBody', () => {
  it('aborts the multipart upload when S3 fails a part, leaving no parts behind', async () => {
    // More than one part, so the upload goes multipart.
    const content = randomBytes(3 * PART_BYTES);
    const { client, sent } = recordingS3((command) =>
      command instanceof UploadPartCommand ? new Error('S3 is down') : undefined,
    );
    const body = { pieces: [content], contentType: 'application/gzip', metadata: {} };
    await expect(uploadBody({ s3: client, bucket: 'b', key: 'k' }, body, PART_BYTES)).rejects.toThrow();
    const aborts = sent.filter((command) => command instanceof AbortMultipartUploadCommand);
    expect(aborts).toHaveLength(1);
    expect((aborts[0] as AbortMultipartUploadCommand).input).toMatchObject({
      Bucket: 'b',
      Key: 'k',
      UploadId: 'upload-1',
    });
  });
});
