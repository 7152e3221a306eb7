import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
} from '@aws-sdk/client-s3';
import { s3ErrorOf } from './s3-errors.js';
import type { UploadTarget } from './upload.js';

/** What clearing an object's stale multipart uploads did. */
export interface StaleUploads {
  aborted: number;
  /**
   * Why nothing was listed (the store does not implement the listing, or the credentials may
   * not), or why what was listed stays open (the credentials may not abort it).
   */
  skipped?: 'not implemented' | 'not permitted' | 'abort not permitted';
  /** The listing or an abort failed otherwise (only after a complete upload, which goes on: `Upload.finish`). */
  failed?: unknown;
}

/**
 * Aborts the multipart uploads an earlier attempt at this object left open (a flusher killed
 * mid-upload leaves its upload open; S3 keeps and bills its parts until it is aborted). A store
 * that does not implement the listing (501/405), or credentials without
 * `s3:ListBucketMultipartUploads` (403), skip it, and so do credentials without
 * `s3:AbortMultipartUpload` (403 on the abort: every retry failed there, and the stream's sealed
 * generation waited, its buffer full, until the permission came): those uploads are left to the
 * bucket's lifecycle rule, since refusing to flush would be worse (a new upload has an UploadId
 * of its own). Any other failure is thrown, so the flush is retried rather than upload beside a
 * stale upload it could not clear.
 */
export async function abortStaleUploads(target: UploadTarget): Promise<StaleUploads> {
  const { s3, bucket, key } = target;
  let listing: ListMultipartUploadsCommandOutput;
  try {
    listing = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  } catch (error) {
    const { name, status } = s3ErrorOf(error);
    if (name === 'NotImplemented' || name === 'MethodNotAllowed' || status === 501 || status === 405) {
      return { aborted: 0, skipped: 'not implemented' };
    }
    if (isAccessDenied(error)) return { aborted: 0, skipped: 'not permitted' };
    throw error;
  }
  let aborted = 0;
  for (const upload of listing.Uploads ?? []) {
    if (upload.Key !== key || !upload.UploadId) continue;
    try {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId }));
      aborted += 1;
    } catch (error) {
      // Gone since the listing (another attempt aborted or completed it): nothing left to clear.
      if (s3ErrorOf(error).name === 'NoSuchUpload') continue;
      if (isAccessDenied(error)) return { aborted, skipped: 'abort not permitted' };
      throw error;
    }
  }
  return { aborted };
}

/**
 * 403s that say the credentials are wrong, not that they may not do this: the flush fails on them
 * (retried, its error named), where "not permitted" was logged each attempt, naming an IAM
 * permission, for a mistyped AWS_ACCESS_KEY_ID (a review's run).
 */
const CREDENTIAL_ERRORS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'RequestTimeTooSkewed',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
]);

function isAccessDenied(error: unknown): boolean {
  const { name, status } = s3ErrorOf(error);
  return name === 'AccessDenied' || (status === 403 && !CREDENTIAL_ERRORS.has(name ?? ''));
}
