import { type BufferSummary, SummaryBuilder } from './buffer-summary.js';
import { type Compressor, compressChunks } from './output-formats.js';
import { type FallbackReport, ParquetStage } from './parquet-stage.js';
import type { Chunk } from './sealed-reader.js';
import { SpillableOutput } from './spillable-output.js';

/** The first pass over a sealed buffer: its summary, and how to get the object's bytes. */
export interface FirstPass {
  summary: BufferSummary;
  /** The object's bytes: held, compressed from a second read, or encoded from the staged file. */
  body(): AsyncIterable<Buffer> | Iterable<Buffer>;
  /** 1 when the buffer is read from Redis once, 2 when `body` reads it again. */
  readPasses: 1 | 2;
  /** Where the object's bytes wait for the upload: `memory`, `disk`, or `redis` (read again). */
  outputOn: 'memory' | 'disk' | 'redis';
  /** Frees what the pass holds (staged files) when `body` is not consumed to its end. */
  discard(): Promise<void>;
}

/**
 * One streaming pass over a sealed buffer's chunks that summarizes it (S3 takes the metadata when
 * the upload starts) and, on the thread pool meanwhile, compresses it, keeping the output for
 * the upload (SpillableOutput): in memory up to `holdBytes`, past that in a scratch file on
 * local disk. So the buffer is read from Redis and compressed once, whatever its size. Where the
 * disk cannot take it, the output is dropped at once, no further chunk is compressed (those
 * already on the thread pool finish), and the upload reads the buffer a second time (`read`
 * again). Memory stays bounded by `holdBytes` plus a few chunks whatever the buffer's size (and,
 * while output held in memory is uploaded, by about twice `holdBytes`: the upload copies it into
 * its parts).
 */
export async function summarizeAndCompress(
  read: () => AsyncIterable<Chunk>,
  holdBytes: number,
  newCompressor: () => Compressor,
): Promise<FirstPass> {
  const summary = new SummaryBuilder();
  const output = new SpillableOutput(holdBytes);
  let compressing: Compressor | undefined = newCompressor();
  const keep = async (pieces: Buffer[]) => {
    if (await output.keep(pieces)) return;
    compressing?.discard();
    compressing = undefined;
  };
  try {
    for await (const chunk of read()) {
      summary.add(chunk.data);
      if (compressing) await keep(await compressing.add(chunk.data, chunk.release));
      else chunk.release();
    }
    if (compressing) await keep(await compressing.finish());
  } catch (error) {
    compressing?.discard();
    await output.discard();
    throw error;
  }
  const kept = compressing !== undefined;
  return {
    summary: summary.result(),
    body: () => (kept ? output.pieces() : compressChunks(newCompressor(), read())),
    readPasses: kept ? 1 : 2,
    outputOn: kept ? (output.place === 'disk' ? 'disk' : 'memory') : 'redis',
    discard: () => output.discard(),
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
  await stage.addAll(read(), (data) => summary.add(data));
  return {
    summary: summary.result(),
    body: () => stage.encode(),
    readPasses: 1,
    outputOn: 'disk',
    discard: () => stage.discard(),
  };
}
