/**
 * The output buffer zlib fills for the flusher's compressors (gzip pieces and zstd). Node's
 * default, 16 KiB, returns to the event loop after every 16 KiB of output and waits there for
 * its turn before compressing on: with the loop busy reading Redis and hashing, the compressing
 * thread stood idle half the time. 1 MiB takes about 70 of those round trips out of each 4 MiB
 * chunk; it costs a megabyte per compression in flight (docs/benchmarks.md, d and j).
 */
export const ZLIB_OUTPUT_CHUNK_BYTES = 1024 * 1024;
