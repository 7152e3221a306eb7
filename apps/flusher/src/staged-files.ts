import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAll } from './scratch-dirs.js';

/**
 * About how much NDJSON each staged file holds. DuckDB's JSON reader holds a buffer as large as
 * the file it reads, up to 32 MiB: one file of a 256 MiB generation put the COPY's peak some 30
 * MiB higher than files of 4 MiB did, for the same rows in the same order, as fast
 * (docs/benchmarks.md, k).
 */
export const STAGED_FILE_BYTES = 4 * 1024 * 1024;

const NEWLINE = 0x0a;

/**
 * A generation staged as NDJSON in numbered files of about STAGED_FILE_BYTES each, every file
 * whole lines: a file ends at the first line end past its size (so a line longer than that is
 * one file's last). DuckDB reads them as one list, in order.
 */
export class StagedFiles {
  /** The files written so far, in order (the open one last). */
  readonly paths: string[] = [];
  private file: FileHandle | undefined;
  /** Bytes in the open file. */
  private written = 0;
  /** Whether what was written so far ends a line (or nothing was written). */
  private atLineStart = true;

  private constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly fileBytes: number,
  ) {}

  /** Opens the first file, `<name>-00000.ndjson` in `dir`; `fileBytes` is for tests. */
  static async open(dir: string, name: string, fileBytes = STAGED_FILE_BYTES): Promise<StagedFiles> {
    const staged = new StagedFiles(dir, name, fileBytes);
    await staged.next();
    return staged;
  }

  /**
   * Writes `data`, any bytes of the generation in order; a new file begins only after a newline,
   * once the open one holds `fileBytes`.
   */
  async write(data: Buffer): Promise<void> {
    let rest = data;
    while (rest.length > 0) {
      const room = this.fileBytes - this.written;
      if (rest.length <= room) {
        await this.append(rest);
        return;
      }
      // The last line that fits; else the line in hand, whole, and no more.
      let cut = room > 0 ? rest.lastIndexOf(NEWLINE, room - 1) + 1 : 0;
      if (cut === 0) {
        if (this.atLineStart && this.written > 0) {
          await this.next();
          continue;
        }
        cut = rest.indexOf(NEWLINE) + 1 || rest.length;
      }
      await this.append(rest.subarray(0, cut));
      rest = rest.subarray(cut);
      if (rest.length > 0 && this.atLineStart) await this.next();
    }
  }

  /** Closes the open file; safe to call more than once. */
  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }

  private async append(data: Buffer): Promise<void> {
    await writeAll(this.file as FileHandle, data);
    this.written += data.length;
    this.atLineStart = data[data.length - 1] === NEWLINE;
  }

  private async next(): Promise<void> {
    await this.close();
    const path = join(this.dir, `${this.name}-${String(this.paths.length).padStart(5, '0')}.ndjson`);
    this.file = await open(path, 'w');
    this.paths.push(path);
    this.written = 0;
  }
}
