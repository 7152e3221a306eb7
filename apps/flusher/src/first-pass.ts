import { type BufferSummary, SummaryBuilder } from './buffer-summary.js';
import { GzipPieces } from './parallel-gzip.js';
import type { Chunk } from './sealed-reader.js';

/** The first pass over a sealed buffer: its summary, and its gzip when that came out small. */
export interface FirstPass {
  summary: BufferSummary;
  /** The whole gzip object, when it took at most `holdBytes`; otherwise a second pass makes it. */
  gzip: Buffer[] | undefined;
}

/**
 * One streaming pass over a sealed buffer's chunks that summarizes it (S3 takes the metadata when
 * the upload starts) and, on the thread pool meanwhile, compresses it, holding the gzip output up
 * to `holdBytes`. A buffer that compresses within that (NDJSON usually shrinks 5-20 times) is
 * read from Redis once and uploaded from memory; past it, the held output is dropped at once, no
 * further chunk is compressed (those already on the thread pool finish), and the upload reads
 * the buffer a second time. Memory stays bounded by `holdBytes` plus a few chunks whatever the
 * buffer's size (and, while the held gzip is uploaded, by about twice `holdBytes`: the upload
 * copies it into its parts).
 */
export async function summarizeAndCompress(
  chunks: AsyncIterable<Chunk>,
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
  for await (const chunk of chunks) {
    summary.add(chunk.data);
    if (gzip) hold(await gzip.add(chunk.data, chunk.release));
    else chunk.release();
  }
  if (gzip) hold(await gzip.finish());
  return { summary: summary.result(), gzip: gzip ? held : undefined };
}
