import type { OutputFormat } from '@spool/shared';
import type { Logger } from 'pino';
import { GzipPieces } from './parallel-gzip.js';
import { ParquetStage } from './parquet-stage.js';
import type { Chunk } from './sealed-reader.js';
import { ZstdPieces } from './zstd-pieces.js';

/** Compresses chunks in order: each `add` resolves with the output ready so far, `finish` with the rest. */
export interface Compressor {
  add(chunk: Buffer, consumed?: () => void): Promise<Buffer[]>;
  finish(): Promise<Buffer[]>;
  /** Stops: its output is not wanted (what it holds is freed). */
  discard(): void;
}

/**
 * How a generation is written in one OUTPUT_FORMAT: its object key's extension, its type, and
 * either a compressor (NDJSON, compressed as it is read) or none (Parquet, which needs the whole
 * generation first: see ParquetStage).
 */
export interface FormatWriter {
  extension: string;
  contentType: string;
  compressor?: () => Compressor;
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
  parquet: {
    extension: 'parquet',
    contentType: 'application/vnd.apache.parquet',
  },
};

/** The format an object's key says it is in (its extension), or undefined for another key. */
export function formatOfKey(key: string): OutputFormat | undefined {
  return (Object.keys(FORMAT_WRITERS) as OutputFormat[]).find((format) =>
    key.endsWith(`.${FORMAT_WRITERS[format].extension}`),
  );
}

type Chunks = AsyncIterable<Chunk>;

/** A generation's NDJSON, as it is read, written in `format`: the object's bytes. */
export async function* encodeChunks(format: OutputFormat, chunks: Chunks, logger: Pick<Logger, 'warn'>) {
  const { compressor } = FORMAT_WRITERS[format];
  if (compressor) {
    yield* compressChunks(compressor(), chunks);
    return;
  }
  const stage = await ParquetStage.open({ logger });
  try {
    await stage.addAll(chunks);
    yield* stage.encode();
  } finally {
    await stage.discard();
  }
}

/**
 * A series of chunks compressed as they come; each chunk is released once compressed. A reader
 * that stops early (an upload that failed) discards the compressor, so zstd's stream, and its
 * worker threads, end then rather than whenever the collector finds them.
 */
export async function* compressChunks(compressor: Compressor, chunks: Chunks): AsyncGenerator<Buffer> {
  let finished = false;
  try {
    for await (const chunk of chunks) yield* await compressor.add(chunk.data, chunk.release);
    yield* await compressor.finish();
    finished = true;
  } finally {
    if (!finished) compressor.discard();
  }
}
