import { describe, expect, it } from '@jest/globals';
import { BufferPool } from './buffer-pool.js';

const MiB = 1024 * 1024;

describe('BufferPool', () => {
  it('hands out at most its count of buffers, and a buffer given back to the one waiting', async () => {
    const pool = new BufferPool(2, MiB);
    const first = await pool.take();
    const second = await pool.take();
    expect(first).not.toBe(second);
    let third: Buffer | undefined;
    const waiting = pool.take().then((buffer) => {
      third = buffer;
    });
    await Promise.resolve();
    expect(third).toBeUndefined();
    pool.give(first);
    await waiting;
    expect(third).toBe(first);
  });

  it('reuses a buffer given back while open', async () => {
    const pool = new BufferPool(2, MiB);
    const buffer = await pool.take();
    pool.give(buffer);
    expect(await pool.take()).toBe(buffer);
    expect(buffer.length).toBe(MiB);
  });

  // A flush reads its generation twice (the summary, then the compression): each read's
  // buffers must be given back when it ends, not at V8's next full collection.
  it('once closed, frees the buffers it holds at once, and each one given back after', async () => {
    const pool = new BufferPool(3, MiB);
    const held = await pool.take();
    const out = await pool.take();
    pool.give(held);
    pool.close();
    expect(held.length).toBe(0); // detached: every view of its memory is empty
    expect(out.length).toBe(MiB);
    pool.give(out);
    expect(out.length).toBe(0);
  });
});
