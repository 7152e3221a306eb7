// The namespace, not its names: on a Node.js without zstd the CLI links, and says which it needs.

import type { Gunzip, ZstdDecompress } from 'node:zlib';
import * as zlib from 'node:zlib';

/**
 * The decompressor that gives back an NDJSON object's lines: zstd for `ndjson.zst`, else gzip. The
 * format as a manifest line names it, too.
 */
export function ndjsonDecompressor(format: string): Gunzip | ZstdDecompress {
  return format === 'ndjson.zst' ? zlib.createZstdDecompress() : zlib.createGunzip();
}

/** The lines a piece of NDJSON content ends: its newlines. */
export function newlines(content: Buffer): number {
  let count = 0;
  for (let at = content.indexOf(0x0a); at !== -1; at = content.indexOf(0x0a, at + 1)) count += 1;
  return count;
}
