import { describe, expect, it } from '@jest/globals';
import { freeNow } from './free-now.js';

describe('freeNow', () => {
  it("detaches a buffer that owns its whole memory, and leaves a slice of another's alone", () => {
    const owned = Buffer.allocUnsafe(1024 * 1024);
    const slice = owned.subarray(0, 10);
    freeNow(slice);
    expect(owned.length).toBe(1024 * 1024);
    freeNow(owned);
    expect(owned.buffer.detached).toBe(true);
    expect([owned.length, slice.length]).toEqual([0, 0]);
    freeNow(owned); // twice: nothing more
  });

  it("never detaches Node's shared pool, which other buffers live in", () => {
    const small = Buffer.from('a small buffer');
    const neighbour = Buffer.from('its neighbour');
    freeNow(small);
    expect([small.toString(), neighbour.toString()]).toEqual(['a small buffer', 'its neighbour']);
  });
});
