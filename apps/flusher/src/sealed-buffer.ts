import { createHash } from 'node:crypto';
import { type Cluster, Redis } from 'ioredis';
import { GZIP_PARALLELISM, GzipPieces } from './parallel-gzip.js';
import { RangeReader } from './range-reader.js';

/** How much of a sealed buffer is read from Redis at a time. */
export const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/** Chunk buffers in rotation: the one worked on, the one read ahead, and those being compressed. */
export const CHUNK_BUFFERS = GZIP_PARALLELISM + 2;

/** A piece of a sealed buffer. `release()` when done with `data`: its memory is then reused. */
export interface Chunk {
  data: Buffer;
  release(): void;
}

/** A fixed number of equal buffers; `take` waits while all are out. */
class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly waiting: Array<(buffer: Buffer) => void> = [];
  private created = 0;

  constructor(
    private readonly count: number,
    private readonly bytes: number,
  ) {}

  take(): Promise<Buffer> {
    const buffer = this.free.pop();
    if (buffer) return Promise.resolve(buffer);
    if (this.created < this.count) {
      this.created += 1;
      return Promise.resolve(Buffer.allocUnsafe(this.bytes));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  give(buffer: Buffer): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter(buffer);
    else this.free.push(buffer);
  }
}

/**
 * Reads a sealed buffer in chunks with GETRANGE, never as one string, into a few buffers that are
 * reused as the caller releases them (over a connection of its own, see RangeReader): memory
 * stays bounded by those buffers whatever the sealed buffer's size, and reading makes no garbage.
 * The next chunk is already on its way while the caller works on this one. A sealed key never
 * changes, so reading it in pieces is consistent. (Through TLS, or a client other than a plain
 * ioredis `Redis`, it reads through ioredis instead, without the reuse.)
 */
export async function* readSealed(
  redis: Redis | Cluster,
  key: string,
  length: number,
  chunkBytes = READ_CHUNK_BYTES,
): AsyncGenerator<Chunk> {
  const reader =
    length > 0 && redis instanceof Redis && !redis.options.tls ? await RangeReader.connect(redis) : undefined;
  const pool = new BufferPool(CHUNK_BUFFERS, chunkBytes);
  const read = async (start: number): Promise<Chunk> => {
    const end = Math.min(start + chunkBytes, length) - 1;
    const buffer = reader ? await pool.take() : undefined;
    const release = () => buffer && pool.give(buffer);
    let data: Buffer;
    try {
      data = reader
        ? await reader.getrange(key, start, end, buffer as Buffer)
        : await redis.getrangeBuffer(key, start, end);
    } catch (error) {
      release();
      throw error;
    }
    if (data.length !== end - start + 1) {
      release();
      throw new Error(
        `sealed buffer ${key} is shorter than its sealed length ${length} (read ${start + data.length})`,
      );
    }
    let released = false;
    return {
      data,
      release: () => {
        if (!released) release();
        released = true;
      },
    };
  };
  try {
    let next = length > 0 ? read(0) : undefined;
    for (let start = 0; next; start += chunkBytes) {
      const chunk = await next;
      next = start + chunkBytes < length ? read(start + chunkBytes) : undefined;
      // If the caller stops early, the read ahead is dropped: its failure is nobody's to handle.
      next?.catch(() => {});
      yield chunk;
    }
  } finally {
    reader?.close();
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
 * What the object's metadata records, built chunk by chunk in one streaming pass: the event count
 * (lines), the SHA-256 of the raw content, and the first and last `receivedAt`.
 */
export class SummaryBuilder {
  private readonly hash = createHash('sha256');
  private events = 0;
  private rawBytes = 0;
  private firstLine: string | undefined;
  private head: Buffer[] = [];
  private tail = Buffer.alloc(0);

  add(chunk: Buffer): void {
    this.hash.update(chunk);
    this.rawBytes += chunk.length;
    let index = chunk.indexOf(NEWLINE);
    if (this.firstLine === undefined) {
      if (index === -1) this.head.push(Buffer.from(chunk));
      else {
        this.head.push(chunk.subarray(0, index));
        this.firstLine = Buffer.concat(this.head).toString('utf8');
        this.head = [];
      }
    }
    while (index !== -1) {
      this.events += 1;
      index = chunk.indexOf(NEWLINE, index + 1);
    }
    // The last line may span chunks: keep the bytes after the chunk's second-to-last newline;
    // with no such newline, the chunk continues the kept line, or starts a new one if that ended.
    const cut = chunk.length < 2 ? -1 : chunk.lastIndexOf(NEWLINE, chunk.length - 2);
    if (cut !== -1) this.tail = Buffer.from(chunk.subarray(cut + 1));
    else if (this.tail.at(-1) === NEWLINE) this.tail = Buffer.from(chunk);
    else this.tail = Buffer.concat([this.tail, chunk]);
  }

  result(): BufferSummary {
    const lastLine = this.tail.toString('utf8').replace(/\n$/, '');
    return {
      events: this.events,
      rawBytes: this.rawBytes,
      sha256: this.hash.digest('hex'),
      firstReceivedAt: receivedAtOf(this.firstLine ?? ''),
      lastReceivedAt: receivedAtOf(lastLine),
    };
  }
}

/** The first pass over a sealed buffer: its summary, and its gzip when that came out small. */
export interface FirstPass {
  summary: BufferSummary;
  /** The whole gzip object, when it took at most `holdBytes`; otherwise a second pass makes it. */
  gzip: Buffer[] | undefined;
}

/**
 * One streaming pass over a sealed buffer that summarizes it (S3 takes the metadata when the
 * upload starts) and, on the thread pool meanwhile, compresses it, holding the gzip output up to
 * `holdBytes`. A buffer that compresses within that (NDJSON usually shrinks 5-20 times) is read
 * from Redis once and uploaded from memory; past it, the held output is dropped at once, no
 * further chunk is compressed (those already on the thread pool finish), and the upload reads
 * the buffer a second time. Memory stays bounded by `holdBytes` plus a few chunks whatever the
 * buffer's size (and, while the held gzip is uploaded, by about twice `holdBytes`: the upload
 * copies it into its parts).
 */
export async function summarizeAndCompress(
  redis: Redis | Cluster,
  key: string,
  length: number,
  holdBytes: number,
): Promise<FirstPass> {
  const summary = new SummaryBuilder();
  let gzip: GzipPieces | undefined = new GzipPieces();
  let held: Buffer[] = [];
  let heldBytes = 0;
  const hold = (pieces: Buffer[]) => {
    for (const piece of pieces) {
      held.push(piece);
      heldBytes += piece.length;
    }
    if (heldBytes > holdBytes) {
      gzip = undefined;
      held = [];
    }
  };
  for await (const chunk of readSealed(redis, key, length)) {
    summary.add(chunk.data);
    if (gzip) hold(await gzip.add(chunk.data, chunk.release));
    else chunk.release();
  }
  if (gzip) hold(await gzip.finish());
  return { summary: summary.result(), gzip: gzip ? held : undefined };
}
