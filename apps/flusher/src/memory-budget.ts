import { readFileSync } from 'node:fs';
import type { Config } from '@spool/shared';
import { GZIP_PARALLELISM } from './parallel-gzip.js';
import { CHUNK_BUFFERS, READ_CHUNK_BYTES } from './sealed-reader.js';
import { QUEUE_SIZE } from './upload.js';

const MiB = 1024 * 1024;

/** An idle flusher's resident memory, rounded up (measured 116 MiB; docs/output.md). */
export const IDLE_BYTES = 128 * MiB;

/**
 * What writing Parquet adds, once whatever FLUSH_CONCURRENCY (one DuckDB COPY at a time): its
 * library and an instance writing one row group (measured +113-150 MiB; docs/output.md#parquet).
 * Row groups of large events take more (memoryLimitFor): not counted here, since the flusher
 * cannot know its events' sizes at start; docs/output.md says how much room such streams need.
 */
export const PARQUET_BYTES = 160 * MiB;

/** Whether any stream writes Parquet (OUTPUT_FORMAT, by default or by stream). */
export function writesParquet(config: Pick<Config, 'outputFormat'>): boolean {
  const { outputFormat } = config;
  return outputFormat.default === 'parquet' || [...outputFormat.streams.values()].includes('parquet');
}

/**
 * The most one flush holds: the upload's part buffers (QUEUE_SIZE, in flight or being filled)
 * and as much again of the compressed pieces copied into them, garbage until the collector runs;
 * the buffers it reads Redis into; and what the compressor holds meanwhile, twice a chunk for
 * each in flight (its output, up to its size, in zlib's 1 MiB pieces and then joined; zstd's
 * workers hold less). Two or four gzip flushes at once peaked 56-74 MiB a flush above idle in a
 * review's runs, over the 48 MiB that counting each part and piece once gave.
 */
export function flushPeakBytes(partBytes: number): number {
  return 2 * QUEUE_SIZE * partBytes + (CHUNK_BUFFERS + 2 * GZIP_PARALLELISM) * READ_CHUNK_BYTES;
}

/** The most the flusher process holds with FLUSH_CONCURRENCY flushes at their peak at once. */
export function flusherPeakBytes(config: Pick<Config, 's3' | 'flushConcurrency' | 'outputFormat'>): number {
  const parquet = writesParquet(config) ? PARQUET_BYTES : 0;
  return IDLE_BYTES + config.flushConcurrency * flushPeakBytes(config.s3.partBytes) + parquet;
}

/**
 * The container's memory limit (cgroup v2, else v1), or undefined when there is none: a process
 * that passes it is killed, whatever it was flushing.
 */
export function containerMemoryLimit(
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): number | undefined {
  for (const path of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    let text: string;
    try {
      text = read(path).trim();
    } catch {
      continue;
    }
    const bytes = Number(text);
    // v2 says "max"; v1 says a number near 2^63 when unlimited.
    return Number.isSafeInteger(bytes) && bytes > 0 && bytes < 2 ** 60 ? bytes : undefined;
  }
  return undefined;
}

/**
 * Why these settings cannot keep within the memory limit, naming them, or undefined when they
 * can (or there is no limit).
 */
export function memoryProblem(
  config: Pick<Config, 's3' | 'flushConcurrency' | 'outputFormat'>,
  limitBytes: number | undefined,
): string | undefined {
  const peak = flusherPeakBytes(config);
  if (limitBytes === undefined || peak <= limitBytes) return undefined;
  const mib = (bytes: number) => `${Math.ceil(bytes / MiB)} MiB`;
  return (
    `S3_PART_SIZE (${mib(config.s3.partBytes)}) × FLUSH_CONCURRENCY (${config.flushConcurrency}): ` +
    `a flusher may hold about ${mib(peak)} (${mib(IDLE_BYTES)} idle + ${config.flushConcurrency} × ` +
    `${mib(flushPeakBytes(config.s3.partBytes))} a flush` +
    `${writesParquet(config) ? ` + ${mib(PARQUET_BYTES)} for Parquet` : ''}), over this container's memory limit of ` +
    `${mib(limitBytes)}; lower S3_PART_SIZE or FLUSH_CONCURRENCY, or raise the limit`
  );
}
