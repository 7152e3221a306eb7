import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { LineSplitter } from './line-splitter.js';

describe('LineSplitter', () => {
  it("gives the text's lines, whatever the chunks it comes in, each chunk's buffer reused after", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', '\n'), { maxLength: 60 }).map((chars) => chars.join('')),
        fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 8 }),
        (text, cuts) => {
          const bounds = [0, ...cuts.filter((cut) => cut < text.length).sort((a, b) => a - b), text.length];
          const lines: string[] = [];
          const visit = (buffer: Buffer, start: number, end: number) =>
            lines.push(buffer.toString('utf8', start, end));
          const splitter = new LineSplitter();
          const reused = Buffer.alloc(text.length);
          for (let i = 0; i + 1 < bounds.length; i += 1) {
            const length = reused.write(text.slice(bounds[i], bounds[i + 1]));
            splitter.push(reused.subarray(0, length), visit);
            reused.fill('x');
          }
          splitter.end(visit);
          expect(lines).toEqual(text.split('\n'));
        },
      ),
    );
  });
});
