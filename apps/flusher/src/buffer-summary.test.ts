import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MAX_KEPT_LINE_BYTES, SummaryBuilder } from './buffer-summary.js';

const line = (i: number, pad: number) =>
  `${JSON.stringify({ receivedAt: `2026-11-27T00:00:${String(i % 60).padStart(2, '0')}.000Z`, i, p: 'x'.repeat(pad) })}\n`;

/** The summary of `content` fed in pieces cut at `cuts`. */
function summaryOf(content: Buffer, cuts: number[], maxKeptLineBytes?: number) {
  const builder = new SummaryBuilder(maxKeptLineBytes);
  let from = 0;
  for (const cut of [
    ...cuts.filter((c) => c > 0 && c < content.length).sort((a, b) => a - b),
    content.length,
  ]) {
    builder.add(content.subarray(from, cut));
    from = cut;
  }
  return builder.result();
}

describe('SummaryBuilder', () => {
  // With the real bound, and with one of 70 bytes: lines of 56 to 96 bytes, some over it (events
  // past MAX_KEPT_LINE_BYTES when MAX_EVENT_BYTES is raised). None held past it: its receivedAt,
  // written first by the ingest, is read from its start.
  it.each([
    ['the real bound', MAX_KEPT_LINE_BYTES],
    ['a bound some lines pass', 70],
  ])(
    'gives the same count, digest and first and last receivedAt however the content is cut (%s)',
    (_, bound) => {
      const receivedAt = (text: string) => JSON.parse(text).receivedAt as string;
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 30 }),
          fc.array(fc.nat(), { maxLength: 12 }),
          (pads, rawCuts) => {
            const lines = pads.map((pad, i) => line(i, pad));
            const content = Buffer.from(lines.join(''));
            const cuts = rawCuts.map((c) => c % (content.length + 1));
            const summary = summaryOf(content, cuts, bound);
            expect(summary.events).toBe(lines.length);
            expect(summary.rawBytes).toBe(content.length);
            expect(summary.sha256).toBe(createHash('sha256').update(content).digest('hex'));
            expect(summary.firstReceivedAt).toBe(receivedAt(lines[0] as string));
            expect(summary.lastReceivedAt).toBe(receivedAt(lines.at(-1) as string));
          },
        ),
        { numRuns: 1_000 },
      );
    },
  );

  it('reads no receivedAt from a line past the bound that does not start with it (a buffer the ingest did not write)', () => {
    const long = `${JSON.stringify({ i: 1, p: 'x'.repeat(200), receivedAt: '2026-11-27T00:00:01.000Z' })}\n`;
    const summary = summaryOf(Buffer.from(long + long), [10, 150, 230], 70);
    expect([summary.firstReceivedAt, summary.lastReceivedAt]).toEqual(['', '']);
  });

  it('keeps out of the metadata a receivedAt no S3 header can carry (a buffer written by hand)', () => {
    for (const value of ['2026-11-27T00:00:00.000Z\n', 'ÿþ', '\u2028', 'x'.repeat(65)]) {
      const content = Buffer.from(`${JSON.stringify({ receivedAt: value })}\n`);
      expect(summaryOf(content, []).firstReceivedAt).toBe('');
    }
    const invalidUtf8 = Buffer.concat([
      Buffer.from('{"receivedAt":"2026'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}\n'),
    ]);
    expect(summaryOf(invalidUtf8, []).lastReceivedAt).toBe('');
  });

  it('finds the last line when a chunk ends exactly where a line ends and the next holds one line', () => {
    const a = line(1, 5);
    const b = line(2, 5);
    const summary = summaryOf(Buffer.from(a + b), [a.length]);
    expect(summary.lastReceivedAt).toBe(JSON.parse(b).receivedAt);
  });
});
