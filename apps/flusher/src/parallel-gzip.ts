import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { constants, crc32, deflateRaw, deflateRawSync } from 'node:zlib';
import { ZLIB_OUTPUT_CHUNK_BYTES } from './zlib-output.js';

const deflateRawAsync = promisify(deflateRaw);

/**
 * Chunks compressed at once: one per core and one more, at most 4 (libuv's default thread pool).
 * The one more waits its turn, so a core that finishes a chunk starts the next at once instead of
 * waiting for the event loop, busy reading Redis and hashing, to hand it one: on 2 cores, 3 in
 * flight flushed bench d's 256 MiB in 2.8-3.1 s where 2 took 3.2-4.0 s (docs/benchmarks.md).
 */
export const GZIP_PARALLELISM = Math.min(4, availableParallelism() + 1);

/** Deflate looks back at most this far: all a chunk needs of the input before it. */
const WINDOW_BYTES = 32 * 1024;

/** gzip header: magic, deflate, no flags, no mtime, no extra flags, OS unknown. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff]);

/**
 * gzip on several cores, the way pigz does it, into one ordinary gzip member that every reader
 * takes (no multi-member file: some readers, DuckDB before 1.3 among them, stop after the first
 * member). Each chunk added is deflated on libuv's thread pool, up to `parallelism` at once,
 * primed with the 32 KiB of input before it (so matches across chunk borders are kept and the
 * size is that of plain gzip), and ended with a sync flush instead of a final block. The raw
 * deflate pieces, in order, form one deflate stream; a final empty block, the CRC-32 of the whole
 * input and its length close the member.
 *
 * Memory: at most `parallelism` chunks and their compressed pieces are held at once.
 */
export class GzipPieces {
  private readonly inFlight: Array<Promise<Buffer>> = [];
  private window = Buffer.alloc(0);
  private crc = 0;
  private inputBytes = 0;
  private headerSent = false;

  constructor(private readonly parallelism = GZIP_PARALLELISM) {}

  /**
   * Starts compressing `chunk`; resolves with the output that is ready, in order. `consumed` is
   * called once the chunk is no longer read (its deflate finished or failed): until then the
   * caller must not reuse its memory.
   */
  async add(chunk: Buffer, consumed: () => void = () => {}): Promise<Buffer[]> {
    const ready = this.header();
    if (chunk.length === 0) consumed();
    else {
      const piece = deflateRawAsync(chunk, {
        chunkSize: ZLIB_OUTPUT_CHUNK_BYTES,
        finishFlush: constants.Z_SYNC_FLUSH,
        ...(this.window.length > 0 ? { dictionary: this.window } : {}),
      });
      // Awaited in order below (or dropped with this object); a failure is not unhandled.
      piece.then(consumed, consumed);
      this.inFlight.push(piece);
      this.crc = crc32(chunk, this.crc);
      this.inputBytes += chunk.length;
      this.window = Buffer.from(
        (chunk.length >= WINDOW_BYTES ? chunk : Buffer.concat([this.window, chunk])).subarray(-WINDOW_BYTES),
      );
    }
    while (this.inFlight.length >= this.parallelism)
      ready.push(await (this.inFlight.shift() as Promise<Buffer>));
    return ready;
  }

  /** Resolves with the rest of the gzip member, once every chunk added is compressed. */
  async finish(): Promise<Buffer[]> {
    const rest = this.header();
    while (this.inFlight.length > 0) rest.push(await (this.inFlight.shift() as Promise<Buffer>));
    rest.push(deflateRawSync(Buffer.alloc(0))); // the final (empty) block
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.inputBytes % 2 ** 32, 4);
    rest.push(trailer);
    return rest;
  }

  /** The chunks on the thread pool finish by themselves; nothing else is held. */
  discard(): void {
    this.inFlight.length = 0;
  }

  private header(): Buffer[] {
    if (this.headerSent) return [];
    this.headerSent = true;
    return [GZIP_HEADER];
  }
}
