import { once } from 'node:events';
import { constants, createZstdCompress, type ZstdCompress } from 'node:zlib';
import { ZLIB_OUTPUT_CHUNK_BYTES } from './zlib-output.js';

/** libzstd's default level: on event NDJSON about gzip's size in less than half its time (docs/output.md). */
const LEVEL = 3;

/**
 * zstd into one frame with its content checksum: every zstd reader takes it (a file of several
 * frames is valid zstd too, but some readers, Node's one-shot zstdDecompress among them, stop
 * after the first). Chunks are compressed in order, one at a time, and `add` resolves as soon as
 * the chunk before is done: so the caller reads and hashes the next chunk while this one is
 * compressed on the thread pool (waiting for each chunk to be compressed left the compressing
 * thread idle while the event loop hashed; docs/benchmarks.md, j). `consumed` is called once
 * zlib has taken a chunk, so the caller may reuse its memory.
 *
 * On one core: libzstd's worker threads (`nbWorkers`) through Node 24's zlib stream push output
 * after the stream's end on some flushes (ERR_STREAM_PUSH_AFTER_EOF, reproduced with a 32 MiB
 * generation uploaded to S3), so they are not used. Memory: zstd's window and two chunks.
 */
export class ZstdPieces {
  private readonly stream: ZstdCompress;
  private output: Buffer[] = [];
  private failure: Error | undefined;
  private discarded = false;
  /** The chunk being compressed: its write, settled once zlib is done with it. */
  private inFlight: Promise<void> = Promise.resolve();

  constructor() {
    this.stream = createZstdCompress({
      chunkSize: ZLIB_OUTPUT_CHUNK_BYTES,
      params: { [constants.ZSTD_c_compressionLevel]: LEVEL, [constants.ZSTD_c_checksumFlag]: 1 },
    });
    this.stream.on('data', (piece: Buffer) => {
      if (!this.discarded) this.output.push(piece);
    });
    // Kept for the next add or finish to throw.
    this.stream.on('error', (error) => {
      this.failure ??= error;
    });
  }

  /**
   * Starts compressing `chunk` once the chunk before is done; resolves, with the output ready so
   * far in order, when that one is done (so at most two chunks are held at a time).
   */
  async add(chunk: Buffer, consumed: () => void = () => {}): Promise<Buffer[]> {
    const before = this.inFlight;
    // Written at once: zlib compresses a stream's writes one after another.
    const written = new Promise<void>((resolve, reject) =>
      this.stream.write(chunk, (error) => {
        consumed();
        if (error) reject(error);
        else resolve();
      }),
    );
    // Its failure is kept for the next add or finish (the stream's 'error' saw it too).
    this.inFlight = written.catch(() => {});
    await before;
    return this.take();
  }

  /** Resolves with the rest of the frame, once every chunk added is compressed. */
  async finish(): Promise<Buffer[]> {
    await this.inFlight;
    const ended = once(this.stream, 'end');
    this.stream.end();
    await ended;
    return this.take();
  }

  /** Ends the frame and drops its output. */
  discard(): void {
    this.discarded = true;
    this.output = [];
    this.stream.end();
  }

  private take(): Buffer[] {
    if (this.failure) throw this.failure;
    const ready = this.output;
    this.output = [];
    return ready;
  }
}
