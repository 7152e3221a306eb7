import { createReadStream } from 'node:fs';
import { type FileHandle, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { makeScratchDir, writeAll } from './scratch-dirs.js';

const READ_BYTES = 1024 * 1024;

/**
 * A first pass's compressed output, kept for the upload: in memory up to `holdBytes`, then on
 * local disk (a scratch file under $TMPDIR), so that a generation is read from Redis and
 * compressed once whatever its size, with memory bounded by `holdBytes`. Where the disk cannot
 * take it (no writable $TMPDIR, or full), `keep` answers false and drops what it kept: the
 * caller reads the generation again, as the flusher did before it had this.
 */
export class SpillableOutput {
  private held: Buffer[] = [];
  private heldBytes = 0;
  private spill: { dir: string; path: string; file: FileHandle } | undefined;
  private dropped = false;

  constructor(private readonly holdBytes: number) {}

  /** Where the output is: `memory`, `disk`, or `dropped` (read again). */
  get place(): 'memory' | 'disk' | 'dropped' {
    if (this.dropped) return 'dropped';
    return this.spill ? 'disk' : 'memory';
  }

  /** Keeps the next pieces, in order; false once they can be kept nowhere. */
  async keep(pieces: Buffer[]): Promise<boolean> {
    if (this.dropped) return false;
    let toWrite = pieces;
    if (!this.spill) {
      for (const piece of pieces) {
        this.held.push(piece);
        this.heldBytes += piece.length;
      }
      if (this.heldBytes <= this.holdBytes) return true;
      toWrite = this.held;
      this.held = [];
      this.heldBytes = 0;
    }
    try {
      if (!this.spill) {
        const dir = await makeScratchDir();
        const path = join(dir, 'object');
        this.spill = { dir, path, file: await open(path, 'w') };
      }
      for (const piece of toWrite) await writeAll(this.spill.file, piece);
      return true;
    } catch {
      await this.discard();
      this.dropped = true;
      return false;
    }
  }

  /** The kept output, in order; a spill file is read from disk in 4 MiB pieces. */
  async *pieces(): AsyncGenerator<Buffer> {
    if (!this.spill) {
      yield* this.held;
      return;
    }
    await this.spill.file.close();
    yield* createReadStream(this.spill.path, { highWaterMark: READ_BYTES });
  }

  /** Frees what is kept, in memory and on disk; safe to call more than once. */
  async discard(): Promise<void> {
    this.held = [];
    this.heldBytes = 0;
    const spill = this.spill;
    this.spill = undefined;
    if (!spill) return;
    await spill.file.close().catch(() => {});
    await rm(spill.dir, { recursive: true, force: true });
  }
}
