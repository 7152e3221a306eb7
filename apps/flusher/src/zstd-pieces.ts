import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import type { ZstdCompress } from 'node:zlib';
// The namespace, not its names: on a Node.js without zstd the process links, and says which it needs
// (refuseOldNode) rather than end on a SyntaxError.
import * as zlib from 'node:zlib';
import { ZLIB_OUTPUT_CHUNK_BYTES } from './zlib-output.js';

/** libzstd's default level: on event NDJSON about gzip's size in less than half its time (docs/output.md). */
const LEVEL = 3;

/**
 * libzstd's worker threads: one a core, at most 4 (each holds a job's input and output and a
 * context), none on one core, where the thread pool's one thread already compresses beside the
 * event loop. `zstd -T0` takes every core too.
 */
export const ZSTD_WORKERS = availableParallelism() < 2 ? 0 : Math.min(4, availableParallelism());

/**
 * The input each worker compresses at a time: libzstd's smallest, so a 4 MiB chunk keeps the
 * workers busy (its default, 8 MiB at level 3, leaves one idle per chunk); the frame was smaller
 * too (docs/benchmarks.md, "zstd on libzstd's workers").
 */
const JOB_BYTES = 1024 * 1024;

/**
 * zstd into one frame with its content checksum: every zstd reader takes it (a file of several
 * frames is valid zstd too, but some readers, Node's one-shot zstdDecompress among them, stop
 * after the first). Chunks are compressed in order, one at a time, each on ZSTD_WORKERS of
 * libzstd's threads, and `add` resolves as soon as the chunk before is done: so the caller reads
 * the next chunk while this one is compressed (waiting for each chunk to be compressed left the
 * compressing threads idle while the event loop read; docs/benchmarks.md, j). `consumed` is
 * called once zlib has taken a chunk, so the caller may reuse its memory.
 *
 * Each write is flushed (ZSTD_e_flush), which ends a block but not the frame. With workers,
 * libzstd returns from a ZSTD_e_continue write while they still compress, and Node 24's zlib
 * stream, taking the write as done, later pushes their output after the stream's end
 * (ERR_STREAM_PUSH_AFTER_EOF: in one of two rounds of bench/analysis/zstd-workers.mjs, and with a
 * 32 MiB generation uploaded to S3); a flushed write returns only once its output is out, or
 * the output buffer is full, which zlib's stream then empties before it goes on.
 * Memory: the workers' jobs, zstd's window and two chunks.
 */
export class ZstdPieces {
  private readonly stream: ZstdCompress;
  private output: Buffer[] = [];
  private failure: Error | undefined;
  private discarded = false;
  /** The chunk being compressed: its write, settled once zlib is done with it. */
  private inFlight: Promise<void> = Promise.resolve();

  constructor(workers = ZSTD_WORKERS) {
    this.stream = zlib.createZstdCompress({
      chunkSize: ZLIB_OUTPUT_CHUNK_BYTES,
      flush: zlib.constants.ZSTD_e_flush,
      params: {
        [zlib.constants.ZSTD_c_compressionLevel]: LEVEL,
        [zlib.constants.ZSTD_c_checksumFlag]: 1,
        [zlib.constants.ZSTD_c_nbWorkers]: workers,
        ...(workers > 0 ? { [zlib.constants.ZSTD_c_jobSize]: JOB_BYTES } : {}),
      },
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
