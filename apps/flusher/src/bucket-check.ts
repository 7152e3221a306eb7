import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';

/**
 * What is wrong with the flusher's bucket, asked once at start, or undefined when nothing is
 * known to be: a bucket that does not exist, or a store that cannot be reached, made every flush
 * fail and retry for good behind a ready /readyz, said only by the first flush's error. A refusal
 * (403) says nothing: HeadBucket needs s3:ListBucket, which the flusher itself does not.
 */
export async function bucketProblem(s3: S3Client, bucket: string): Promise<string | undefined> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return undefined;
  } catch (error) {
    const { name, code, $metadata } = error as {
      name?: string;
      code?: string;
      $metadata?: { httpStatusCode?: number };
    };
    if (name === 'NotFound' || name === 'NoSuchBucket' || $metadata?.httpStatusCode === 404) {
      return 'S3_BUCKET: no such bucket in this store; every flush will fail until it exists';
    }
    if (code !== undefined && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ETIMEDOUT)$/.test(code)) {
      return `S3_ENDPOINT: the store cannot be reached (${code}); every flush will fail until it can`;
    }
    return undefined;
  }
}
