import { once } from 'node:events';
import { constants, createZstdCompress, type ZstdCompress } from 'node:zlib';
import { ZLIB_OUTPUT_CHUNK_BYTES } from './zlib-output.js';

/** libzstd's default level: on event NDJSON about gzip's size in less than half its time (docs/output.md). */
const LEVEL = 3;

/**
 * zstd into one frame with its content checksum: every zstd reader takes it (a file of several
 * frames is valid zstd too, but some readers, Node's one-shot zstdDecompress among them, stop
 * after the first). Chunks go in one at a time; `consumed` is called once zlib has taken a chunk,
 * so the caller may reuse its memory.
 *
 * On one core: libzstd's worker threads (`nbWorkers`) through Node 24's zlib stream push output
 * after the stream's end on some flushes (ERR_STREAM_PUSH_AFTER_EOF, reproduced with a 32 MiB
 * generation uploaded to S3), so they are not used. Memory: zstd's window and one chunk.
 */
export class ZstdPieces {
  private readonly stream: ZstdCompress;
  private output: Buffer[] = [];
  private failure: Error | undefined;
  private discarded = false;

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

  /** Compresses `chunk`; resolves with the output ready so far, in order. */
  async add(chunk: Buffer, consumed: () => void = () => {}): Promise<Buffer[]> {
    try {
      await new Promise<void>((resolve, reject) =>
        this.stream.write(chunk, (error) => (error ? reject(error) : resolve())),
      );
    } finally {
      consumed();
    }
    return this.take();
  }

  /** Resolves with the rest of the frame, once every chunk added is compressed. */
  async finish(): Promise<Buffer[]> {
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
