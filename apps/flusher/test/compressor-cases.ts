import { expect } from '@jest/globals';
import fc from 'fast-check';
import { type Compressor, compressChunks } from '../src/output-formats.js';

/**
 * Runs `chunks` through `compressor` as the flusher does (compressChunks), checking every chunk
 * is released exactly once, only after its use; resolves with the whole output and the order in
 * which the chunks were released.
 */
export async function compressAll(
  compressor: Compressor,
  chunks: Buffer[],
): Promise<{ output: Buffer; released: number[] }> {
  const released: number[] = [];
  async function* source() {
    for (const [index, data] of chunks.entries()) {
      yield {
        data,
        release: () => {
          expect(released).not.toContain(index);
          released.push(index);
        },
      };
    }
  }
  const out: Buffer[] = [];
  for await (const piece of compressChunks(compressor, source())) out.push(piece);
  expect(released).toHaveLength(chunks.length);
  return { output: Buffer.concat(out), released };
}

/** Series of chunks for property tests: random bytes, and text repeated enough to compress. */
export const chunkLists = fc
  .array(
    fc.oneof(
      fc.uint8Array({ maxLength: 5_000 }),
      fc.string({ maxLength: 3_000 }).map((s) => s.repeat(20)),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.map((part) => Buffer.from(part)));
