import { zstdDecompressSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { compressChunks } from './output-formats.js';
import { ZstdPieces } from './zstd-pieces.js';

/** Runs `chunks` through ZstdPieces, checking every chunk is released once. */
async function compress(chunks: Buffer[]): Promise<Buffer> {
  const released: number[] = [];
  async function* source() {
    for (const [index, data] of chunks.entries()) yield { data, release: () => released.push(index) };
  }
  const out: Buffer[] = [];
  for await (const piece of compressChunks(new ZstdPieces(), source())) out.push(piece);
  expect(released).toEqual(chunks.map((_, index) => index));
  return Buffer.concat(out);
}

describe('ZstdPieces', () => {
  it('is one zstd frame holding exactly the bytes written, whatever the chunks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 5_000 }),
            fc.string({ maxLength: 3_000 }).map((s) => s.repeat(20)),
          ),
          { maxLength: 12 },
        ),
        async (parts) => {
          const chunks = parts.map((part) => Buffer.from(part));
          // Node's one-shot decoder reads the first frame only: all of it is there when it is one.
          expect(zstdDecompressSync(await compress(chunks))).toEqual(Buffer.concat(chunks));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('compresses 16 MiB of NDJSON in 4 MiB chunks into one frame', async () => {
    const line = (i: number) =>
      `{"event":"page","n":${i},"path":"/p/${i % 97}","pad":"${'x'.repeat(i % 50)}"}\n`;
    const text = Buffer.from(Array.from({ length: 250_000 }, (_, i) => line(i)).join(''));
    const chunks: Buffer[] = [];
    for (let at = 0; at < text.length; at += 4 * 1024 * 1024)
      chunks.push(text.subarray(at, at + 4 * 1024 * 1024));
    const frame = await compress(chunks);
    expect(frame.length).toBeLessThan(text.length / 5);
    expect(zstdDecompressSync(frame).equals(text)).toBe(true);
  });

  it('can be discarded part-way', async () => {
    const zstd = new ZstdPieces();
    await zstd.add(Buffer.from('a\n'));
    expect(() => zstd.discard()).not.toThrow();
  });
});
