const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

/** A line of a chunk: `buffer[start, end)`, without its "\n". */
export type LineVisitor = (buffer: Buffer, start: number, end: number) => void;

/**
 * Splits a generation's NDJSON, as it comes in chunks, into its lines: the one a chunk ends in the
 * middle of is joined to the start of the next. Staging a generation for Parquet reads it so, and
 * rewriting the staged file as text lines too.
 */
export class LineSplitter {
  private partial = EMPTY;

  /**
   * Calls `visit` for each line that `chunk` ends; the line it ends in the middle of is kept as a
   * copy, so the chunk's buffer may be reused once this returns.
   */
  push(chunk: Buffer, visit: LineVisitor): void {
    let from = 0;
    for (let next = chunk.indexOf(NEWLINE); next !== -1; next = chunk.indexOf(NEWLINE, from)) {
      if (this.partial.length > 0) {
        const joined = Buffer.concat([this.partial, chunk.subarray(from, next)]);
        this.partial = EMPTY;
        visit(joined, 0, joined.length);
      } else visit(chunk, from, next);
      from = next + 1;
    }
    this.partial = Buffer.concat([this.partial, chunk.subarray(from)]);
  }

  /** Calls `visit` for the last line, when the text did not end in "\n" (an empty line otherwise). */
  end(visit: LineVisitor): void {
    const last = this.partial;
    this.partial = EMPTY;
    visit(last, 0, last.length);
  }
}
