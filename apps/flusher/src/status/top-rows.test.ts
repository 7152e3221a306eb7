import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { topRows } from './top-rows.js';

describe('topRows', () => {
  it('keeps what sorting every row and taking the first `capacity` keeps, in pages of any size', () => {
    const byValueThenName = (a: { v: number; n: number }, b: { v: number; n: number }) =>
      b.v - a.v || a.n - b.n;
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 40 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 25 }),
        (pages, capacity) => {
          let n = 0;
          const rowPages = pages.map((page) => page.map((v) => ({ v, n: n++ })));
          const top = topRows(capacity, byValueThenName);
          for (const page of rowPages) top.add(page);
          expect(top.rows()).toEqual(rowPages.flat().sort(byValueThenName).slice(0, capacity));
        },
      ),
    );
  });
});
