import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3ErrorOf } from './s3-errors.js';

/** Connection failures that say the store itself is not there (not a bucket, not a refusal). */
const UNREACHABLE = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ETIMEDOUT)$/;

/**
 * What S3 says of a bucket (`HeadBucket`): there, missing (404), or the store unreachable, with
 * its connection error's code. A refusal (403) or any other error says nothing (`unknown`):
 * HeadBucket needs s3:ListBucket, which flushing does not.
 */
export async function bucketState(
  s3: S3Client,
  bucket: string,
): Promise<{ state: 'there' | 'missing' | 'unknown' } | { state: 'unreachable'; code: string }> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return { state: 'there' };
  } catch (error) {
    const { code, status } = s3ErrorOf(error);
    if (status === 404) return { state: 'missing' };
    if (code !== undefined && UNREACHABLE.test(code)) return { state: 'unreachable', code };
    return { state: 'unknown' };
  }
}

/**
 * What is wrong with the flusher's bucket, asked once at start, or undefined when nothing is
 * known to be: a bucket that does not exist, or a store that cannot be reached, made every flush
 * fail and retry for good behind a ready /readyz, said only by the first flush's error.
 */
export async function bucketProblem(s3: S3Client, bucket: string): Promise<string | undefined> {
  const known = await bucketState(s3, bucket);
  if (known.state === 'missing') {
    return 'S3_BUCKET: no such bucket in this store; every flush will fail until it exists';
  }
  if (known.state === 'unreachable') {
    return `S3_ENDPOINT: the store cannot be reached (${known.code}); every flush will fail until it can`;
  }
  return undefined;
}
