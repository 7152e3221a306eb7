import { randomBytes } from 'node:crypto';
import { crc32, gunzipSync, gzipSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { chunkLists, compressAll } from '../test/compressor-cases.js';
import { GzipPieces } from './parallel-gzip.js';

/** `chunks` through GzipPieces of `parallelism`. */
const compress = async (chunks: Buffer[], parallelism: number) =>
  (await compressAll(new GzipPieces(parallelism), chunks)).output;

/**
 * Reads `gz` as exactly one gzip member: the 10-byte header, one deflate stream that ends where
 * the trailer begins, and the trailer's CRC-32 and length of the content. Throws otherwise.
 */
function readOneMember(gz: Buffer): Buffer {
  expect([...gz.subarray(0, 3)]).toEqual([0x1f, 0x8b, 0x08]);
  const content = inflateRawSync(gz.subarray(10, -8));
  expect(gz.readUInt32LE(gz.length - 8)).toBe(crc32(content) >>> 0);
  expect(gz.readUInt32LE(gz.length - 4)).toBe(content.length);
  return content;
}

const text = (lines: number) =>
  Buffer.from(
    Array.from(
      { length: lines },
      (_, i) => `{"messageId":"m-${i}","event":"page","userId":"u-${i % 977}","path":"/p/${i % 50}"}\n`,
    ).join(''),
  );

describe('GzipPieces', () => {
  it('is one gzip member holding exactly the bytes written, whatever the chunks and parallelism', async () => {
    await fc.assert(
      fc.asyncProperty(chunkLists, fc.integer({ min: 1, max: 4 }), async (chunks, parallelism) => {
        const gz = await compress(chunks, parallelism);
        const expected = Buffer.concat(chunks);
        expect(readOneMember(gz).equals(expected)).toBe(true);
        expect(gunzipSync(gz).equals(expected)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps order when a large chunk finishes after a small one', async () => {
    const chunks = [randomBytes(2_000_000), randomBytes(1_000), text(20_000), randomBytes(10)];
    expect(readOneMember(await compress(chunks, 3)).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('compresses as well as plain gzip: each chunk is primed with the input before it', async () => {
    const content = text(50_000);
    const chunks: Buffer[] = [];
    for (let start = 0; start < content.length; start += 16 * 1024) {
      chunks.push(content.subarray(start, start + 16 * 1024));
    }
    const parallel = await compress(chunks, 4);
    // Without the priming, every 16 KiB chunk would start from an empty window (about 20 % larger).
    expect(parallel.length).toBeLessThan(gzipSync(content).length * 1.02);
  });

  it('turns empty input into an empty gzip file, not zero bytes', async () => {
    const gz = await compress([], 2);
    expect(readOneMember(gz).length).toBe(0);
    expect(gunzipSync(gz).length).toBe(0);
  });
});
