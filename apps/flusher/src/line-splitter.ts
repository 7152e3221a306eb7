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
  /** The line a chunk ended in the middle of, in pieces (copies): joined once, when it ends. */
  private pieces: Buffer[] = [];
  private pieceBytes = 0;

  /**
   * Calls `visit` for each line that `chunk` ends; the line it ends in the middle of is kept as a
   * copy, so the chunk's buffer may be reused once this returns. (Kept in pieces: joining them at
   * every chunk copied a line of n chunks n times, quadratic in a long line.)
   */
  push(chunk: Buffer, visit: LineVisitor): void {
    let from = 0;
    for (let next = chunk.indexOf(NEWLINE); next !== -1; next = chunk.indexOf(NEWLINE, from)) {
      if (this.pieces.length > 0) {
        this.pieces.push(chunk.subarray(from, next));
        const joined = this.take(next - from);
        visit(joined, 0, joined.length);
      } else visit(chunk, from, next);
      from = next + 1;
    }
    if (from < chunk.length) {
      this.pieces.push(Buffer.from(chunk.subarray(from)));
      this.pieceBytes += chunk.length - from;
    }
  }

  /** Calls `visit` for the last line, when the text did not end in "\n" (an empty line otherwise). */
  end(visit: LineVisitor): void {
    const last = this.take(0);
    visit(last, 0, last.length);
  }

  /** The kept pieces as one buffer, with `more` bytes of a last piece pushed; none kept after. */
  private take(more: number): Buffer {
    const joined = this.pieces.length > 0 ? Buffer.concat(this.pieces, this.pieceBytes + more) : EMPTY;
    this.pieces = [];
    this.pieceBytes = 0;
    return joined;
  }
}
