import { type BufferSummary, SummaryBuilder } from './buffer-summary.js';
import type { Compressor } from './output-formats.js';
import type { Chunk } from './sealed-reader.js';

/** The first pass over a sealed buffer: its summary, and its compressed object when that came out small. */
export interface FirstPass {
  summary: BufferSummary;
  /** The whole compressed object, when it took at most `holdBytes`; otherwise a second pass makes it. */
  compressed: Buffer[] | undefined;
}

/**
 * One streaming pass over a sealed buffer's chunks that summarizes it (S3 takes the metadata when
 * the upload starts) and, on the thread pool meanwhile, compresses it, holding the output up
 * to `holdBytes`. A buffer that compresses within that (NDJSON usually shrinks 5-20 times) is
 * read from Redis once and uploaded from memory; past it, the held output is dropped at once, no
 * further chunk is compressed (those already on the thread pool finish), and the upload reads
 * the buffer a second time. Memory stays bounded by `holdBytes` plus a few chunks whatever the
 * buffer's size (and, while the held output is uploaded, by about twice `holdBytes`: the upload
 * copies it into its parts).
 */
export async function summarizeAndCompress(
  chunks: AsyncIterable<Chunk>,
  holdBytes: number,
  compressor: Compressor,
): Promise<FirstPass> {
  const summary = new SummaryBuilder();
  let compressing: Compressor | undefined = compressor;
  let held: Buffer[] = [];
  let heldBytes = 0;
  const hold = (pieces: Buffer[]) => {
    for (const piece of pieces) {
      held.push(piece);
      heldBytes += piece.length;
    }
    if (heldBytes > holdBytes) {
      compressing?.discard();
      compressing = undefined;
      held = [];
    }
  };
  for await (const chunk of chunks) {
    summary.add(chunk.data);
    if (compressing) hold(await compressing.add(chunk.data, chunk.release));
    else chunk.release();
  }
  if (compressing) hold(await compressing.finish());
  return { summary: summary.result(), compressed: compressing ? held : undefined };
}
