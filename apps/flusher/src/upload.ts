import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { freeNow } from './free-now.js';
import { abortStaleUploads, type StaleUploads } from './stale-uploads.js';

/**
 * Part buffers an upload holds, in flight or being filled: at most S3_PART_SIZE × QUEUE_SIZE,
 * whatever the object's size. Two: 4 × 8 MiB parts put a flush's peak 40-60 MiB higher than 2
 * did, for no shorter upload (docs/benchmarks.md, d); two parts in flight outrun what one core
 * compresses, and a part is filled from memory in milliseconds.
 */
export const QUEUE_SIZE = 2;

/** The most parts S3 takes in one multipart upload. */
const MAX_PARTS = 10_000;

/**
 * Counts and hashes an object's bytes: those uploadBody sends (`count`), and those spool verify
 * reads back (as they pass through).
 */
export class ByteCounter extends Transform {
  bytes = 0;
  readonly hash = createHash('sha256');

  count(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.count(chunk);
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
 * Uploads a body as a multipart upload of `partBytes` parts (S3_PART_SIZE), QUEUE_SIZE in flight,
 * or as one PutObject when it is one part or less. Returns its size and SHA-256 once S3 has
 * confirmed the whole object. On failure the multipart upload is aborted (no parts left behind)
 * and the first error thrown: S3's own answer, or the body's; a failing upload stops reading the
 * body.
 *
 * Written here rather than with lib-storage's `Upload`, which this used before: lib-storage
 * gathers a stream into parts by concatenating its pieces, and the rest of each concatenation
 * keeps the whole of it alive until the next, so two 8 MiB parts in flight held some 54 MiB, the
 * peak of a Parquet flush (docs/benchmarks.md, k). Here each part is one buffer of `partBytes`,
 * filled by copying the pieces into it, and reused once S3 has taken its part: QUEUE_SIZE of them
 * at most, a part filled only while fewer are in flight (a buffer left to the garbage collector
 * lived long enough to wait for a full collection, and the flush's resident memory grew by a
 * part with each).
 */
export async function uploadBody(
  target: UploadTarget,
  body: UploadBody,
  partBytes: number,
): Promise<{ compressedBytes: number; objectSha256: string; extraUploads: StaleUploads | undefined }> {
  const counter = new ByteCounter();
  const upload = new MultipartUpload(target, body, partBytes);
  let part = await upload.emptyPart();
  let filled = 0;
  let extraUploads: StaleUploads | undefined;
  try {
    for await (const piece of body.pieces) {
      counter.count(piece);
      for (let at = 0; at < piece.length; ) {
        // A full part is sent once more bytes come, so the last part is known as the last.
        if (filled === partBytes) {
          await upload.sendPart(part);
          part = await upload.emptyPart();
          filled = 0;
        }
        const copied = piece.copy(part, filled, at, Math.min(piece.length, at + partBytes - filled));
        filled += copied;
        at += copied;
      }
    }
    extraUploads = await upload.finish(part.subarray(0, filled));
    freeNow(part);
  } catch (error) {
    await upload.abort();
    throw error;
  } finally {
    upload.freeSpareParts();
  }
  return { compressedBytes: counter.bytes, objectSha256: counter.hash.digest('hex'), extraUploads };
}

/**
 * PutObject, confirmed: S3 may answer 200 with an `<Error>` body, which the SDK takes for success
 * when a newline follows `</Error>`; an answer that names no ETag confirms no object. A manifest
 * part so answered was taken as written, and its lines dropped from Redis: the day's manifest
 * lacked an object for good (a review's run).
 */
export async function putObjectConfirmed(s3: S3Client, input: PutObjectCommandInput): Promise<void> {
  const answer = await s3.send(new PutObjectCommand(input));
  if (!answer.ETag) throw new NoObjectConfirmed();
}

/** One object's upload, part by part; the S3 calls of uploadBody. */
class MultipartUpload {
  private uploadId: string | undefined;
  private readonly parts: CompletedPart[] = [];
  private partsSent = 0;
  /** How many times the SDK sent the CreateMultipartUpload (more than once: its answer was lost). */
  private createAttempts = 1;
  private readonly inFlight = new Set<Promise<void>>();
  /** Part buffers whose parts S3 has taken, to fill again. */
  private readonly spare: Buffer[] = [];
  /** The first part S3 refused: what the upload fails with. */
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly target: UploadTarget,
    private readonly body: UploadBody,
    private readonly partBytes: number,
  ) {}

  /**
   * A buffer for the next part, once fewer than QUEUE_SIZE parts are in flight: one S3 has taken,
   * else a new one. Throws a part's failure.
   */
  async emptyPart(): Promise<Buffer> {
    while (this.inFlight.size >= QUEUE_SIZE && !this.failure) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure.error;
    return this.spare.pop() ?? Buffer.allocUnsafe(this.partBytes);
  }

  /** Gives back the memory of the part buffers S3 has taken (freeNow), once no part will be sent. */
  freeSpareParts(): void {
    for (const buffer of this.spare.splice(0)) freeNow(buffer);
  }

  /** Sends a part (filled in a buffer of emptyPart's); throws a part's failure. */
  async sendPart(data: Buffer): Promise<void> {
    this.uploadId ??= await this.create();
    if (this.failure) throw this.failure.error;
    if (this.partsSent === MAX_PARTS)
      throw new Error(`more than S3's ${MAX_PARTS} parts: raise S3_PART_SIZE`);
    this.partsSent += 1;
    const partNumber = this.partsSent;
    const sent: Promise<void> = this.target.s3
      .send(
        new UploadPartCommand({
          Bucket: this.target.bucket,
          Key: this.target.key,
          UploadId: this.uploadId,
          PartNumber: partNumber,
          Body: data,
          ContentLength: data.length,
        }),
      )
      .then((answer) => {
        if (!answer.ETag) throw new Error(`S3 answered part ${partNumber} without an ETag`);
        this.parts.push({
          PartNumber: partNumber,
          ETag: answer.ETag,
          ...(answer.ChecksumCRC32 && { ChecksumCRC32: answer.ChecksumCRC32 }),
        });
        // Only once S3 answered: its request has sent every byte (a failed one's may still be
        // queued on its socket, and nothing is sent after a failure).
        this.spare.push(data);
      })
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.inFlight.delete(sent));
    this.inFlight.add(sent);
  }

  /**
   * Sends the last part and completes the upload; a body of one part or less is one PutObject.
   * Returns what became of the empty uploads S3 began for the SDK's retries of
   * CreateMultipartUpload, if there were any.
   */
  async finish(last: Buffer): Promise<StaleUploads | undefined> {
    const { s3, bucket, key } = this.target;
    if (this.uploadId === undefined) {
      await putObjectConfirmed(s3, {
        Bucket: bucket,
        Key: key,
        Body: last,
        ContentLength: last.length,
        ContentType: this.body.contentType,
        Metadata: this.body.metadata,
      });
      return undefined;
    }
    if (last.length > 0) await this.sendPart(last);
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure.error;
    const answer = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: this.uploadId,
        MultipartUpload: { Parts: this.parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0)) },
      }),
    );
    // S3 may answer CompleteMultipartUpload 200 with an <Error> body; the SDK finds it only when
    // `</Error>` ends the body, and with a newline after it took it for an object: the
    // generation was released, its events lost (a review's run: 4,200 of 4,500). An answer
    // that names no ETag confirms no object; the flush is retried.
    if (!answer.ETag) throw new NoObjectConfirmed();
    // The SDK sends a CreateMultipartUpload again when its answer is lost (a reset, a timeout):
    // S3 began an upload for each try, and those this one did not use stayed open, empty, for
    // good (a review's run). Once the object is complete, any upload still open for its key is
    // such a one. Best effort, the object being complete: what stays open is left to the bucket's
    // lifecycle rule, as abort's, and the caller says so (it went unsaid: a review's run).
    if (this.createAttempts === 1) return undefined;
    return abortStaleUploads(this.target).catch((failed: unknown) => ({ aborted: 0, failed }));
  }

  /** After a failure: waits for the parts in flight, then aborts the multipart upload, if begun. */
  async abort(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.uploadId === undefined) return;
    const { s3, bucket, key } = this.target;
    await s3
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: this.uploadId }))
      .catch(() => {
        // Left to the bucket's lifecycle rule and to the next attempt's clean-up (stale-uploads.ts).
      });
  }

  private async create(): Promise<string> {
    const { s3, bucket, key } = this.target;
    // As lib-storage did: with checksums on, the object's parts carry CRC32s, listed again at completion.
    const checksums = (await s3.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED';
    const answer = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        ContentType: this.body.contentType,
        Metadata: this.body.metadata,
        ...(checksums && { ChecksumAlgorithm: 'CRC32' as const }),
      }),
    );
    if (!answer.UploadId) throw new Error('S3 answered CreateMultipartUpload without an UploadId');
    this.createAttempts = answer.$metadata?.attempts ?? 1;
    return answer.UploadId;
  }
}

/** S3 answered an upload with success, and named no object (no ETag). */
export class NoObjectConfirmed extends Error {
  override name = 'NoObjectConfirmed';
  constructor() {
    super('S3 answered the upload without an ETag: no object is confirmed (an error answered 200?)');
  }
}
