import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { removeLeftScratch } from './scratch-dirs.js';

const dir = mkdtempSync(join(tmpdir(), 'scratch-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('removeLeftScratch', () => {
  it('removes what dead flushers and this process left, and keeps a live flusher’s and anything else', async () => {
    // A process that has exited: its pid names no process now.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const names = [
      `spool-parquet-${dead}-a1`,
      `spool-parquet-${process.pid}-b2`,
      `spool-parquet-${process.ppid}-c3`,
      'spool-parquet-notapid',
      'other-dir',
    ];
    for (const name of names) mkdirSync(join(dir, name, 'spill'), { recursive: true });

    expect((await removeLeftScratch(dir)).sort()).toEqual([names[0], names[1]].sort());
    expect(readdirSync(dir).sort()).toEqual([names[2], names[3], names[4]].sort());
  });
});
