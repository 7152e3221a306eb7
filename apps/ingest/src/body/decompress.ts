import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyRequest, preParsingHookHandler } from 'fastify';
import { errors } from '../errors.js';

/** A stream Fastify reads the body from; `receivedEncodedLength` is what Fastify compares with Content-Length. */
type BodyStream = Transform & { receivedEncodedLength: number };

/**
 * Passes a body on, telling `onCounted` how many bytes of it have passed, and stops it once they
 * pass `limit` (SPOOL_BODY_TOO_LARGE), before more of it is inflated (a gzip bomb costs nothing);
 * what `onCounted` throws stops it too (no room for it: InflightBodies.grow).
 */
export class BodyCounter extends Transform {
  private seen = 0;
  constructor(
    private readonly limit: number,
    private readonly onCounted: (bytes: number) => void,
    /** Asked once the inflated body has ended, before the body does: an error fails it. */
    private readonly atEnd: () => Error | undefined = () => undefined,
  ) {
    super();
  }
  override _flush(callback: TransformCallback): void {
    callback(this.atEnd() ?? null);
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      callback(new errors.SPOOL_BODY_TOO_LARGE(this.limit));
      return;
    }
    try {
      this.onCounted(this.seen);
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback(null, chunk);
  }
}

/**
 * The request body as Fastify should read it: unchanged without Content-Encoding, inflated with
 * `gzip`; any other encoding is refused. The decompressed size counts against `limit`, and so
 * does the size as sent; `onInflated` hears the decompressed size as it grows.
 */
export function decodeBody(
  payload: NodeJS.ReadableStream,
  contentEncoding: string | undefined,
  limit: number,
  onInflated: (bytes: number) => void = () => {},
): NodeJS.ReadableStream {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return payload;
  if (encoding !== 'gzip' && encoding !== 'x-gzip') throw new errors.SPOOL_UNSUPPORTED_ENCODING(encoding);

  const gunzip = createGunzip();
  // zlib stops at bytes after a gzip member that start with 0x00 ("padding") and drops them
  // unread: `<member>\x00GARBAGE`, or a second member whose first byte was damaged, stored the
  // first member's events under a 202 (a review's). Every byte sent must be the stream's.
  const trailing = () =>
    gunzip.bytesWritten < body.receivedEncodedLength
      ? new errors.SPOOL_BAD_GZIP(
          `${body.receivedEncodedLength - gunzip.bytesWritten} bytes after the end of the gzip stream`,
        )
      : undefined;
  const body = new BodyCounter(limit, onInflated, trailing) as unknown as BodyStream;
  body.receivedEncodedLength = 0;
  payload.on('data', (chunk: Buffer) => {
    body.receivedEncodedLength += chunk.length;
    // The bytes as sent count too, whatever they inflate to: gzip members that inflate to
    // nothing (20 bytes each) gave Fastify no inflated data to compare the sent length at, and a
    // chunked body of them was read and inflated whole (200 MB in 2.6 s of CPU, a security
    // review's), bounded by the request timeout alone.
    if (body.receivedEncodedLength > limit) {
      payload.unpipe(gunzip);
      body.destroy(new errors.SPOOL_BODY_TOO_LARGE(limit));
    }
  });
  // zlib's own errors (truncated or corrupt input) become one stable 400.
  gunzip.on('error', (error) => body.destroy(new errors.SPOOL_BAD_GZIP(error.message)));
  payload.on('error', (error) => body.destroy(error));
  // Fastify stops listening once it has answered (a 413 on the bytes as sent comes first when they
  // outgrow the inflated ones); an error after that must not go unheard, or it ends the process.
  body.on('error', () => {});
  body.on('close', () => gunzip.destroy());
  payload.pipe(gunzip).pipe(body);
  return body;
}

/**
 * Fastify's preParsing step for a route whose bodies may be gzip, up to `limit` bytes inflated;
 * `onInflated` hears each request's inflated size as it grows (the ingest's MAX_INFLIGHT_BYTES).
 */
export function decodingHook(
  limit: number,
  onInflated: (request: FastifyRequest, bytes: number) => void = () => {},
): preParsingHookHandler {
  return (request, _reply, payload, done) => {
    try {
      const inflated = (bytes: number) => onInflated(request, bytes);
      done(null, decodeBody(payload, request.headers['content-encoding'], limit, inflated) as typeof payload);
    } catch (error) {
      done(error as Error);
    }
  };
}
