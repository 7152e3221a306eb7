import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

/**
 * The multipart clean-up paths when S3 fails at a chosen step, which a real store shows only by
 * chance: an S3 client that records the commands it is sent and fails the ones it is told to.
 * The integration tests (crash.int.test.ts) and the chaos suite cover the real uploads and aborts.
 */
export function recordingS3(fail: (command: object) => Error | undefined) {
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
export function s3Error(name: string, httpStatusCode: number): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode } });
}
