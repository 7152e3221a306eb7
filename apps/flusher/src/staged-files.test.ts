import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { StagedFiles } from './staged-files.js';

/** Writes `text` in pieces cut at `cuts` to files of about `fileBytes`; returns each file's text. */
async function staged(text: string, cuts: number[], fileBytes: number): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'staged-files-'));
  try {
    const files = await StagedFiles.open(dir, 'generation', fileBytes);
    const data = Buffer.from(text);
    const bounds = [
      0,
      ...[...new Set(cuts)].filter((cut) => cut < data.length).sort((a, b) => a - b),
      data.length,
    ];
    for (let i = 1; i < bounds.length; i++) await files.write(data.subarray(bounds[i - 1], bounds[i]));
    await files.close();
    expect(files.paths.map((path) => path.slice(dir.length + 1))).toEqual(
      files.paths.map((_, index) => `generation-${String(index).padStart(5, '0')}.ndjson`),
    );
    return await Promise.all(files.paths.map((path) => readFile(path, 'utf8')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('StagedFiles', () => {
  it('splits the generation at line ends, each file about its size, a longer line in a file of its own', async () => {
    const files = await staged('aaa\nbbb\ncccccccccccc\nd\ne', [2, 5, 11], 8);
    expect(files).toEqual(['aaa\nbbb\n', 'cccccccccccc\n', 'd\ne']);
  });

  it('keeps every byte in order, in files of whole lines, none past its size but by the line that crosses it', async () => {
    const line = fc.string({ unit: fc.constantFrom('x', 'é', '{'), maxLength: 40 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(line, { maxLength: 60 }),
        fc.array(fc.nat(2000), { maxLength: 12 }),
        fc.integer({ min: 1, max: 64 }),
        fc.boolean(),
        async (lines, cuts, fileBytes, endsLine) => {
          const text = lines.join('\n') + (endsLine && lines.length > 0 ? '\n' : '');
          const files = await staged(text, cuts, fileBytes);
          expect(files.join('')).toBe(text);
          for (const file of files.slice(0, -1)) expect(file.endsWith('\n')).toBe(true);
          for (const file of files) {
            const lastLineStart = file.lastIndexOf('\n', file.length - 2) + 1;
            expect(Buffer.byteLength(file.slice(0, lastLineStart))).toBeLessThanOrEqual(fileBytes);
          }
          // A new file only for more lines: none empty, unless nothing was staged at all.
          if (text.length > 0) for (const file of files) expect(file.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
