import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { removeLeftScratch, scratchDiskProblem, scratchFreeBytes } from './scratch-dirs.js';

const dir = mkdtempSync(join(tmpdir(), 'scratch-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scratchDiskProblem', () => {
  const MiB = 1024 * 1024;
  const settings = { maxBufferBytes: 512 * MiB, flushConcurrency: 2 };

  it('names the settings when $TMPDIR has less than 1.2 × MAX_BUFFER_BYTES × FLUSH_CONCURRENCY free', () => {
    expect(scratchDiskProblem(settings, 1000 * MiB, '/tmp')).toBe(
      '/tmp has 1000 MiB free; Parquet flushes stage up to 1.2 × MAX_BUFFER_BYTES (512 MiB) × FLUSH_CONCURRENCY (2) = 1229 MiB there',
    );
    expect(scratchDiskProblem(settings, 1229 * MiB)).toBeUndefined();
  });

  it('reads the free space of the disk under $TMPDIR', () => {
    expect(scratchFreeBytes()).toBeGreaterThan(0);
  });
});

describe('removeLeftScratch', () => {
  it('removes what dead flushers and this process left, and keeps a live flusher’s and anything else', async () => {
    // Past Linux's largest pid_max (2^22): no process has it, now or later (an exited child's
    // pid could be taken again by another process while the test runs).
    const dead = 2 ** 22 + 1;
    const names = [
      `spool-flush-${dead}-a1`,
      `spool-flush-${process.pid}-b2`,
      `spool-flush-${process.ppid}-c3`,
      'spool-flush-notapid',
      'other-dir',
    ];
    for (const name of names) mkdirSync(join(dir, name, 'spill'), { recursive: true });

    expect((await removeLeftScratch(dir)).sort()).toEqual([names[0], names[1]].sort());
    expect(readdirSync(dir).sort()).toEqual([names[2], names[3], names[4]].sort());
  });
});
