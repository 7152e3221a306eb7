import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** How much of a sealed buffer is read from Redis at a time. */
export const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Reads a sealed buffer in chunks with GETRANGE, never as one string: memory stays bounded by
 * the chunk size whatever the buffer's size. A sealed key never changes, so reading it in pieces
 * is consistent.
 */
export async function* readSealed(
  redis: Redis | Cluster,
  key: string,
  length: number,
  chunkBytes = READ_CHUNK_BYTES,
): AsyncGenerator<Buffer> {
  for (let start = 0; start < length; start += chunkBytes) {
    const end = Math.min(start + chunkBytes, length) - 1;
    const chunk = await redis.getrangeBuffer(key, start, end);
    if (chunk.length !== end - start + 1) {
      throw new Error(
        `sealed buffer ${key} is shorter than its sealed length ${length} (read ${start + chunk.length})`,
      );
    }
    yield chunk;
  }
}

export interface BufferSummary {
  events: number;
  rawBytes: number;
  sha256: string;
  firstReceivedAt: string;
  lastReceivedAt: string;
}

function receivedAtOf(line: string): string {
  try {
    const value = (JSON.parse(line) as { receivedAt?: unknown }).receivedAt;
    return typeof value === 'string' ? value : '';
  } catch {
    return '';
  }
}

const NEWLINE = 0x0a;

/**
 * What the object's metadata records, computed in one streaming pass before the upload (S3 takes
 * metadata when the upload starts): the event count (lines), the SHA-256 of the raw content, and
 * the first and last `receivedAt`.
 */
export async function summarize(redis: Redis | Cluster, key: string, length: number): Promise<BufferSummary> {
  const hash = createHash('sha256');
  let events = 0;
  let firstLine: string | undefined;
  let head: Buffer[] = [];
  let tail = Buffer.alloc(0);
  for await (const chunk of readSealed(redis, key, length)) {
    hash.update(chunk);
    let index = chunk.indexOf(NEWLINE);
    if (firstLine === undefined) {
      if (index === -1) head.push(chunk);
      else {
        head.push(chunk.subarray(0, index));
        firstLine = Buffer.concat(head).toString('utf8');
        head = [];
      }
    }
    while (index !== -1) {
      events += 1;
      index = chunk.indexOf(NEWLINE, index + 1);
    }
    // The last line may span chunks: keep the bytes after the chunk's second-to-last newline.
    const cut = chunk.length < 2 ? -1 : chunk.lastIndexOf(NEWLINE, chunk.length - 2);
    tail = cut === -1 ? Buffer.concat([tail, chunk]) : Buffer.from(chunk.subarray(cut + 1));
  }
  const lastLine = tail.toString('utf8').replace(/\n$/, '');
  return {
    events,
    rawBytes: length,
    sha256: hash.digest('hex'),
    firstReceivedAt: receivedAtOf(firstLine ?? ''),
    lastReceivedAt: receivedAtOf(lastLine),
  };
}
