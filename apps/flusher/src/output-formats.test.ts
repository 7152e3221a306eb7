import { describe, expect, it } from '@jest/globals';
import { type Compressor, compressChunks } from './output-formats.js';
import { GzipPieces } from './parallel-gzip.js';
import { ZstdPieces } from './zstd-pieces.js';

/** `compressor`, with its discards counted. */
function counting(compressor: Compressor): { compressor: Compressor; discards: () => number } {
  let discards = 0;
  return {
    compressor: {
      add: (chunk, consumed) => compressor.add(chunk, consumed),
      finish: () => compressor.finish(),
      discard: () => {
        discards += 1;
        compressor.discard();
      },
    },
    discards: () => discards,
  };
}

async function* chunks(count: number) {
  for (let index = 0; index < count; index++)
    yield { data: Buffer.from(`{"n":${index}}\n`.repeat(50_000)), release: () => {} };
}

describe('compressChunks', () => {
  it.each([
    ['gzip', () => new GzipPieces()],
    ['zstd', () => new ZstdPieces()],
  ])('discards the %s compressor when its reader stops early (a failed upload)', async (_name, make) => {
    const { compressor, discards } = counting(make());
    const failedUpload = async () => {
      for await (const _piece of compressChunks(compressor, chunks(8)))
        throw new Error('S3 refused the part');
    };
    await expect(failedUpload()).rejects.toThrow('S3 refused the part');
    expect(discards()).toBe(1);
  });

  it('keeps the compressor it finished', async () => {
    const { compressor, discards } = counting(new ZstdPieces());
    for await (const _piece of compressChunks(compressor, chunks(3))) {
    }
    expect(discards()).toBe(0);
  });
});
