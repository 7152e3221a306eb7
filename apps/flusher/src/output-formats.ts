import type { OutputFormat } from '@spool/shared';
import { GzipPieces } from './parallel-gzip.js';
import { ZstdPieces } from './zstd-pieces.js';

/** Compresses chunks in order: each `add` resolves with the output ready so far, `finish` with the rest. */
export interface Compressor {
  add(chunk: Buffer, consumed?: () => void): Promise<Buffer[]>;
  finish(): Promise<Buffer[]>;
  /** Stops: its output is not wanted (what it holds is freed). */
  discard(): void;
}

/** How a generation is written in one OUTPUT_FORMAT: its object key's extension, type and compressor. */
export interface FormatWriter {
  extension: string;
  contentType: string;
  compressor(): Compressor;
}

export const FORMAT_WRITERS: Readonly<Record<OutputFormat, FormatWriter>> = {
  'ndjson.gz': {
    extension: 'ndjson.gz',
    contentType: 'application/gzip',
    compressor: () => new GzipPieces(),
  },
  'ndjson.zst': {
    extension: 'ndjson.zst',
    contentType: 'application/zstd',
    compressor: () => new ZstdPieces(),
  },
};

/** A series of chunks compressed as they come; each chunk is released once compressed. */
export async function* compressChunks(
  compressor: Compressor,
  chunks: AsyncIterable<{ data: Buffer; release(): void }>,
): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) yield* await compressor.add(chunk.data, chunk.release);
  yield* await compressor.finish();
}
