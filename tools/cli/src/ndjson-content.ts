import { createGunzip, createZstdDecompress, type Gunzip, type ZstdDecompress } from 'node:zlib';

/**
 * The decompressor that gives back an NDJSON object's lines: zstd for `ndjson.zst`, else gzip. The
 * format as a manifest line names it, too.
 */
export function ndjsonDecompressor(format: string): Gunzip | ZstdDecompress {
  return format === 'ndjson.zst' ? createZstdDecompress() : createGunzip();
}
