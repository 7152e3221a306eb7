import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/**
 * Parts in flight: an upload holds at most S3_PART_SIZE × QUEUE_SIZE, whatever the object's size.
 * Two: an upload from a scratch file fills every slot at once, and 4 × 8 MiB parts put a flush's
 * peak 40-60 MiB higher than 2 did, for no shorter upload (docs/benchmarks.md, d); two parts in
 * flight outrun what one core compresses.
 */
export const QUEUE_SIZE = 2;

/** Counts and hashes an object's bytes as they pass (to S3; and read back by spool verify). */
export class ByteCounter extends Transform {
  bytes = 0;
  readonly hash = createHash('sha256');
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    callback(null, chunk);
  }
}

export interface UploadTarget {
  s3: S3Client;
  bucket: string;
  key: string;
}

export interface UploadBody {
  /** The object's bytes, as they come (a stream of compressed pieces, or pieces held in memory). */
  pieces: AsyncIterable<Buffer> | Iterable<Buffer>;
  contentType: string;
  metadata: Record<string, string>;
}

/**
 * Uploads a body as a multipart upload of `partBytes` parts (S3_PART_SIZE), QUEUE_SIZE in flight.
 * Returns its size and SHA-256 once S3 has confirmed the whole object. On failure the multipart upload is
 * aborted (`leavePartsOnError: false`) and the error is thrown; a failing body stops the upload,
 * and a failing upload stops reading the body.
 */
export async function uploadBody(
  target: UploadTarget,
  body: UploadBody,
  partBytes: number,
): Promise<{ compressedBytes: number; objectSha256: string }> {
  const counter = new ByteCounter();
  const client = firstErrorKept(target.s3);
  const upload = new Upload({
    client: client.s3,
    params: {
      Bucket: target.bucket,
      Key: target.key,
      Body: counter,
      ContentType: body.contentType,
      Metadata: body.metadata,
    },
    partSize: partBytes,
    queueSize: QUEUE_SIZE,
    leavePartsOnError: false,
  });
  const uploaded = upload
    .done()
    .then((answer) => {
      // S3 may answer CompleteMultipartUpload 200 with an <Error> body; the SDK finds it only when
      // `</Error>` ends the body, and with a newline after it took it for an object: the
      // generation was released, its events lost (a review's run: 4,200 of 4,500). An answer
      // that names no ETag confirms no object; the flush is retried.
      if (!answer.ETag) throw new NoObjectConfirmed();
    })
    // Otherwise the reading would wait for ever on a consumer that is gone.
    .catch((error: unknown) => {
      counter.destroy(error as Error);
      throw error;
    });
  const read = pipeline(Readable.from(body.pieces), counter).catch((error: unknown) => {
    void upload.abort().catch(() => {});
    throw error;
  });
  try {
    await Promise.all([read, uploaded]);
  } catch (error) {
    throw (error as Error).name === 'AbortError' && client.firstError !== undefined
      ? client.firstError
      : error;
  }
  return { compressedBytes: counter.bytes, objectSha256: counter.hash.digest('hex') };
}

/** S3 answered an upload with success, and named no object (no ETag). */
export class NoObjectConfirmed extends Error {
  override name = 'NoObjectConfirmed';
  constructor() {
    super(
      "S3 answered the upload's completion without an ETag: no object is confirmed (an error answered 200?)",
    );
  }
}

/**
 * The client, its first refused request kept. When S3 refuses a part (AccessDenied, SlowDown),
 * lib-storage ends that part's uploader, which closes the body, and throws the AbortError that
 * another uploader, waiting on the body, then met: the flush's log and the status page said "The
 * operation was aborted", not S3's answer (21 failures of 21 in a review's run with parts
 * refused 403). The upload's error is then S3's own.
 */
function firstErrorKept(s3: S3Client): { s3: S3Client; firstError: unknown } {
  const kept: { s3: S3Client; firstError: unknown } = { s3, firstError: undefined };
  kept.s3 = Object.create(s3, {
    send: {
      value: (...args: Parameters<S3Client['send']>) =>
        (s3.send as (...sent: Parameters<S3Client['send']>) => Promise<unknown>)(...args).catch(
          (error: unknown) => {
            kept.firstError ??= error;
            throw error;
          },
        ),
    },
  }) as S3Client;
  return kept;
}
