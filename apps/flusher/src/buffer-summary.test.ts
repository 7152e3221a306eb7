import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { SummaryBuilder } from './buffer-summary.js';

const line = (i: number, pad: number) =>
  `${JSON.stringify({ receivedAt: `2026-11-27T00:00:${String(i % 60).padStart(2, '0')}.000Z`, i, p: 'x'.repeat(pad) })}\n`;

/** The summary of `content` fed in pieces cut at `cuts`. */
function summaryOf(content: Buffer, cuts: number[]) {
  const builder = new SummaryBuilder();
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
  it('gives the same count, digest and first and last receivedAt however the content is cut', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (pads, rawCuts) => {
          const lines = pads.map((pad, i) => line(i, pad));
          const content = Buffer.from(lines.join(''));
          const cuts = rawCuts.map((c) => c % (content.length + 1));
          const summary = summaryOf(content, cuts);
          expect(summary.events).toBe(lines.length);
          expect(summary.rawBytes).toBe(content.length);
          expect(summary.sha256).toBe(createHash('sha256').update(content).digest('hex'));
          expect(summary.firstReceivedAt).toBe(JSON.parse(lines[0] as string).receivedAt);
          expect(summary.lastReceivedAt).toBe(JSON.parse(lines.at(-1) as string).receivedAt);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('finds the last line when a chunk ends exactly where a line ends and the next holds one line', () => {
    const a = line(1, 5);
    const b = line(2, 5);
    const summary = summaryOf(Buffer.from(a + b), [a.length]);
    expect(summary.lastReceivedAt).toBe(JSON.parse(b).receivedAt);
  });
});
