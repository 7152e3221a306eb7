import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import { summarizeForCompression } from './first-pass.js';
import { GzipPieces } from './parallel-gzip.js';

/** A sealed buffer's reads, as readSealed gives them: `reads[n]` for the n-th read. */
function reads(...contents: string[][]) {
  let count = 0;
  return () => {
    const chunks = contents[Math.min(count++, contents.length - 1)] as string[];
    return (async function* () {
      for (const text of chunks) yield { data: Buffer.from(text), release: () => {} };
    })();
  };
}

async function drain(body: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of body) pieces.push(piece);
  return Buffer.concat(pieces);
}

describe('summarizeForCompression', () => {
  it('summarizes the first read, and compresses the second into the body', async () => {
    const chunks = ['{"n":1}\n{"n":', '2}\n', '{"n":3}\n'];
    const pass = await summarizeForCompression(reads(chunks), () => new GzipPieces());
    expect(pass.summary).toMatchObject({ events: 3, rawBytes: chunks.join('').length });
    expect(gunzipSync(await drain(pass.body())).toString()).toBe(chunks.join(''));
  });

  it('refuses a body whose second read differs from the first, even at the same length', async () => {
    const first = ['{"n":1}\n', '{"n":2}\n'];
    const changed = ['{"n":1}\n', '{"n":3}\n'];
    const pass = await summarizeForCompression(reads(first, changed), () => new GzipPieces());
    await expect(drain(pass.body())).rejects.toThrow(/changed between its summary and its upload/);
  });
});
