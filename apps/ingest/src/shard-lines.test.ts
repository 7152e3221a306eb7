import { describe, expect, it } from '@jest/globals';
import { shardOfMessageId } from '@spool/shared';
import fc from 'fast-check';
import { splitByShard } from './shard-lines.js';

const line = (id: string) => `{"messageId":"${id}"}\n`;

describe('splitByShard', () => {
  it('sends each client id to its shard and the lines without one to the spare shard', () => {
    const parts = [line('a'), line('generated-1'), line('b'), line('c'), line('generated-2')];
    const clientIds = { ids: ['a', 'b', 'c'], lines: [0, 2, 3] };
    const split = splitByShard({ parts, clientIds }, 4, 3);

    for (const part of split) {
      // Every id sits in the shard its hash names, with its line index within the shard.
      for (const [i, id] of part.clientIds.ids.entries()) {
        expect(shardOfMessageId(id, 4)).toBe(part.shard);
        expect(part.text.split('\n')[part.clientIds.lines[i] as number]).toBe(line(id).trimEnd());
      }
      expect(part.count).toBe(part.text.split('\n').length - 1);
      expect(part.bytes).toBe(Buffer.byteLength(part.text));
    }
    const spare = split.find((part) => part.shard === 3);
    expect(spare?.text).toContain('generated-1');
    expect(spare?.text).toContain('generated-2');
  });

  it('keeps every line exactly once, in order within its shard', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.string({ minLength: 1, maxLength: 12 }), { nil: undefined }), {
          maxLength: 60,
        }),
        fc.integer({ min: 1, max: 8 }),
        (maybeIds, shards) => {
          // Each line carries its index, so lines with the same id stay distinct and their order is checkable.
          const parts = maybeIds.map(
            (id, i) => `{"messageId":${JSON.stringify(id ?? `gen-${i}`)},"i":${i}}\n`,
          );
          const clientIds = { ids: [] as string[], lines: [] as number[] };
          maybeIds.forEach((id, i) => {
            if (id !== undefined) {
              clientIds.ids.push(id);
              clientIds.lines.push(i);
            }
          });
          const split = splitByShard({ parts, clientIds }, shards, 0);
          const all = split.flatMap((part) => part.text.split(/(?<=\n)/).filter(Boolean));
          expect(all.sort()).toEqual([...parts].sort());
          expect(split.reduce((sum, part) => sum + part.clientIds.ids.length, 0)).toBe(clientIds.ids.length);
          for (const part of split) {
            const order = part.text
              .split(/(?<=\n)/)
              .filter(Boolean)
              .map((text) => parts.indexOf(text));
            expect(order).toEqual([...order].sort((a, b) => a - b));
          }
        },
      ),
    );
  });
});
