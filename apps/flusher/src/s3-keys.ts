import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';

/**
 * Every key under `prefix` (after `startAfter`, when given), in S3's order, page by page (S3 lists
 * at most 1,000 a page), through the SDK's paginator.
 */
export async function* listKeys(
  s3: S3Client,
  bucket: string,
  prefix: string,
  startAfter?: string,
): AsyncGenerator<string> {
  const input = { Bucket: bucket, Prefix: prefix, ...(startAfter ? { StartAfter: startAfter } : {}) };
  for await (const page of paginateListObjectsV2({ client: s3 }, input)) {
    for (const object of page.Contents ?? []) if (object.Key) yield object.Key;
  }
}
