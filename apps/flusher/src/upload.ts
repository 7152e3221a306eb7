import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Cluster, Redis } from 'ioredis';
import { gzipChunks } from './parallel-gzip.js';
import { type BufferSummary, readSealed } from './sealed-buffer.js';

/**
 * Default multipart part size (S3_PART_SIZE) and parts in flight: the upload holds at most
 * part size × QUEUE_SIZE of compressed data, whatever the buffer's size.
 */
export const PART_BYTES = 8 * 1024 * 1024;
export const QUEUE_SIZE = 4;

class ByteCounter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

export interface UploadTarget {
  s3: S3Client;
  bucket: string;
  key: string;
}

/** User metadata of an object: enough to check it against what was accepted. */
export function objectMetadata(stream: string, gen: number, summary: BufferSummary): Record<string, string> {
  return {
    'spool-stream': stream,
    'spool-generation': String(gen),
    'spool-events': String(summary.events),
    'spool-raw-bytes': String(summary.rawBytes),
    'spool-sha256': summary.sha256,
    'spool-first-received-at': summary.firstReceivedAt,
    'spool-last-received-at': summary.lastReceivedAt,
  };
}

/** What clearing an object's stale multipart uploads did. */
export interface StaleUploads {
  aborted: number;
  /** Why nothing was listed: the store does not implement the listing, or the credentials may not. */
  skipped?: 'not implemented' | 'not permitted';
}

/**
 * Aborts the multipart uploads an earlier attempt at this object left open (a flusher killed
 * mid-upload leaves its upload open; S3 keeps and bills its parts until it is aborted). A store
 * that does not implement the listing (501/405), or credentials without
 * `s3:ListBucketMultipartUploads` (403), skip it: those uploads are left to the bucket's
 * lifecycle rule, since refusing to flush would be worse. Any other failure is thrown, so the
 * flush is retried rather than upload beside a stale upload it could not clear.
 */
export async function abortStaleUploads(target: UploadTarget): Promise<StaleUploads> {
  const { s3, bucket, key } = target;
  let listing: ListMultipartUploadsCommandOutput;
  try {
    listing = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const name = (error as { name?: string }).name;
    if (name === 'NotImplemented' || name === 'MethodNotAllowed' || status === 501 || status === 405) {
      return { aborted: 0, skipped: 'not implemented' };
    }
    if (name === 'AccessDenied' || status === 403) return { aborted: 0, skipped: 'not permitted' };
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
      if ((error as { name?: string }).name !== 'NoSuchUpload') throw error;
    }
  }
  return { aborted };
}

export interface UploadOptions {
  /** Multipart part size (S3_PART_SIZE). */
  partBytes?: number;
  /** The object's gzip, already made by the first pass; without it, the buffer is read again. */
  gzip?: Buffer[];
}

/**
 * Uploads a sealed buffer's gzip as a multipart upload: from memory when the first pass held it,
 * else streamed from Redis through gzip (on several cores). Returns the compressed size once S3
 * has confirmed the whole object. On failure the multipart upload is aborted
 * (`leavePartsOnError: false`) and the error is thrown; the sealed buffer is untouched.
 */
export async function uploadSealed(
  redis: Redis | Cluster,
  sealedKey: string,
  length: number,
  target: UploadTarget,
  metadata: Record<string, string>,
  { partBytes = PART_BYTES, gzip }: UploadOptions = {},
): Promise<{ compressedBytes: number }> {
  const counter = new ByteCounter();
  const upload = new Upload({
    client: target.s3,
    params: {
      Bucket: target.bucket,
      Key: target.key,
      Body: counter,
      ContentType: 'application/gzip',
      Metadata: metadata,
    },
    partSize: partBytes,
    queueSize: QUEUE_SIZE,
    leavePartsOnError: false,
  });
  // Either side failing stops the other: a Redis error aborts the upload, an S3 error stops the
  // reading (otherwise it would wait forever on a consumer that is gone).
  const uploaded = upload.done().catch((error: unknown) => {
    counter.destroy(error as Error);
    throw error;
  });
  const compressed = (
    gzip
      ? pipeline(Readable.from(gzip), counter)
      : pipeline(gzipChunks(readSealed(redis, sealedKey, length)), counter)
  ).catch((error: unknown) => {
    void upload.abort().catch(() => {});
    throw error;
  });
  await Promise.all([compressed, uploaded]);
  return { compressedBytes: counter.bytes };
}
