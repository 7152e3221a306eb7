import { crc32 } from 'node:zlib';
import { type BufferSummary, SummaryBuilder } from './buffer-summary.js';
import { type Compressor, compressChunks } from './output-formats.js';
import { type FallbackReport, ParquetStage } from './parquet-stage.js';
import type { Chunk } from './sealed-reader.js';

/** The first pass over a sealed buffer: its summary, and how to get the object's bytes. */
export interface FirstPass {
  summary: BufferSummary;
  /** The object's bytes: compressed from a second read, or encoded from the staged file. */
  body(): AsyncIterable<Buffer> | Iterable<Buffer>;
  /** 2 when `body` reads the buffer from Redis again (NDJSON), 1 when it does not (Parquet). */
  readPasses: 1 | 2;
  /** Frees what the pass holds (staged files) when `body` is not consumed to its end. */
  discard(): Promise<void>;
}

/**
 * A pass over a sealed buffer that only summarizes it: S3 takes the metadata (count, SHA-256,
 * first and last `receivedAt`) when the upload starts. `body` then reads the buffer again and
 * compresses it into the upload as it goes, so compressing and uploading overlap, and the
 * output is held nowhere but in the upload's parts. Reading and hashing are quick beside
 * compressing (0.3 s of a 256 MiB flush's 2.1–2.7 s); compressing during this pass instead, and
 * keeping the output in memory or a scratch file until the upload could start, made the upload
 * wait for the whole compression, and a single flush's peak 7–31 MiB higher (docs/benchmarks.md,
 * "The summary's own pass").
 */
export async function summarizeForCompression(
  read: () => AsyncIterable<Chunk>,
  newCompressor: () => Compressor,
): Promise<FirstPass> {
  const summary = new SummaryBuilder();
  let crc = 0;
  for await (const chunk of read()) {
    summary.add(chunk.data);
    crc = crc32(chunk.data, crc);
    chunk.release();
  }
  return {
    summary: summary.result(),
    body: () => compressChunks(newCompressor(), readAgain(read(), crc)),
    readPasses: 2,
    discard: async () => {},
  };
}

/**
 * The second read's chunks, checked against the first's CRC-32 (70 ms of 256 MiB): it throws at
 * its end, before the upload's last part, when they differ, and the upload is aborted. A sealed
 * key never changes, but one changed by hand between the two reads (a same-length SETRANGE in a
 * review's run) was otherwise uploaded under the first read's count and SHA-256, and released.
 */
async function* readAgain(chunks: AsyncIterable<Chunk>, summarizedCrc: number): AsyncGenerator<Chunk> {
  let crc = 0;
  for await (const chunk of chunks) {
    crc = crc32(chunk.data, crc);
    yield chunk;
  }
  if (crc !== summarizedCrc)
    throw new Error('the sealed buffer changed between its summary and its upload: not uploaded');
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
    discard: () => stage.discard(),
  };
}
