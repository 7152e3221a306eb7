import { type BufferSummary, SummaryBuilder } from './buffer-summary.js';
import { type Compressor, compressChunks } from './output-formats.js';
import { type FallbackReport, ParquetStage } from './parquet-stage.js';
import type { Chunk } from './sealed-reader.js';

/** The first pass over a sealed buffer: its summary, and how to get the object's bytes. */
export interface FirstPass {
  summary: BufferSummary;
  /** The object's bytes: held, compressed from a second read, or encoded from the staged file. */
  body(): AsyncIterable<Buffer> | Iterable<Buffer>;
  /** 1 when the buffer is read from Redis once, 2 when `body` reads it again. */
  readPasses: 1 | 2;
  /** Frees what the pass holds (staged files) when `body` is not consumed to its end. */
  discard(): Promise<void>;
}

/**
 * One streaming pass over a sealed buffer's chunks that summarizes it (S3 takes the metadata when
 * the upload starts) and, on the thread pool meanwhile, compresses it, holding the output up
 * to `holdBytes`. A buffer that compresses within that (NDJSON usually shrinks 5-20 times) is
 * read from Redis once and uploaded from memory; past it, the held output is dropped at once, no
 * further chunk is compressed (those already on the thread pool finish), and the upload reads
 * the buffer a second time (`read` again). Memory stays bounded by `holdBytes` plus a few chunks
 * whatever the buffer's size (and, while the held output is uploaded, by about twice
 * `holdBytes`: the upload copies it into its parts).
 */
export async function summarizeAndCompress(
  read: () => AsyncIterable<Chunk>,
  holdBytes: number,
  newCompressor: () => Compressor,
): Promise<FirstPass> {
  const summary = new SummaryBuilder();
  let compressing: Compressor | undefined = newCompressor();
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
  for await (const chunk of read()) {
    summary.add(chunk.data);
    if (compressing) hold(await compressing.add(chunk.data, chunk.release));
    else chunk.release();
  }
  if (compressing) hold(await compressing.finish());
  const whole = compressing ? held : undefined;
  return {
    summary: summary.result(),
    body: () => whole ?? compressChunks(newCompressor(), read()),
    readPasses: whole ? 1 : 2,
    discard: async () => {},
  };
}

/**
 * One streaming pass that summarizes the buffer and stages it for Parquet (ParquetStage): the
 * buffer is read from Redis once; `body` has DuckDB write the file and yields its bytes.
 */
export async function summarizeAndStage(
  read: () => AsyncIterable<Chunk>,
  report: FallbackReport,
): Promise<FirstPass> {
  const summary = new SummaryBuilder();
  const stage = await ParquetStage.open(report);
  try {
    for await (const chunk of read()) {
      summary.add(chunk.data);
      await stage.add(chunk.data);
      chunk.release();
    }
  } catch (error) {
    await stage.discard();
    throw error;
  }
  return {
    summary: summary.result(),
    body: () => stage.encode(),
    readPasses: 1,
    discard: () => stage.discard(),
  };
}
