import { describe, expect, it } from '@jest/globals';
import { columnsOf, cutMiddleToColumns, cutToColumns, padToColumns } from './terminal-text.js';

describe('cutting text to a terminal width', () => {
  it('counts East Asian wide characters as two columns, so a cut line does not wrap', () => {
    // A review's tail of Japanese text: cut at 150 UTF-16 units, it took 199 columns.
    const line = `{"text":"${'日本語のテキスト'.repeat(30)}"}`;
    const cut = cutToColumns(line, 150);
    expect(columnsOf(cut)).toBeLessThanOrEqual(150);
    expect(columnsOf(cut)).toBeGreaterThanOrEqual(149);
    expect(cut.endsWith('…')).toBe(true);
  });

  it('never splits a character: a surrogate pair, or an emoji made of several', () => {
    for (const piece of ['😀', '👩‍👩‍👧', 'é']) {
      for (let columns = 2; columns < 12; columns++) {
        const cut = cutToColumns(`ab${piece.repeat(20)}`, columns);
        expect(cut.isWellFormed()).toBe(true);
        expect(cut.slice(2, -1).split(piece).join('')).toBe('');
        expect(columnsOf(cut)).toBeLessThanOrEqual(columns);
      }
    }
  });

  it('counts a character string-width takes for none as one column: a terminal shows it', () => {
    // 300 soft hyphens made a tail line 429 columns on a 200-column terminal (a review's run).
    const line = `{"text":"${'a\u00ad'.repeat(300)}"}`;
    const cut = cutToColumns(line, 200);
    expect(cut.length).toBeLessThanOrEqual(200);
    expect(cut.endsWith('…')).toBe(true);
    expect(columnsOf('\u115f\u070f')).toBe(2);
  });

  it('leaves a line that fits as it is, and cuts plain text as before', () => {
    expect(cutToColumns('short', 10)).toBe('short');
    expect(cutToColumns('exactly10!', 10)).toBe('exactly10!');
    expect(cutToColumns('eleven-long', 10)).toBe('eleven-lo…');
  });

  it('cuts by the middle within the width, by columns, keeping both ends', () => {
    expect(cutMiddleToColumns('web', 6)).toBe('web');
    expect(cutMiddleToColumns('abcdefghij', 7)).toBe('abc…hij');
    for (const columns of [6, 7, 10, 25]) {
      const cut = cutMiddleToColumns('日本語のテキスト-streams-日本語', columns);
      expect({
        columns,
        fits: columnsOf(cut) <= columns,
        ends: cut.startsWith('日') && cut.endsWith('語'),
      }).toEqual({
        columns,
        fits: true,
        ends: true,
      });
    }
  });

  it('pads by columns', () => {
    expect(padToColumns('日本', 6)).toBe('日本  ');
    expect(padToColumns('web', 6)).toBe('web   ');
    expect(padToColumns('too-long', 3)).toBe('too-long');
  });
});
