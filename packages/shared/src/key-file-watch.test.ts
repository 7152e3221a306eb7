import {
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { adminKeys } from './config-fields.js';
import { keyFileReadOkGauge, watchKeyFile } from './key-file-watch.js';
import { fileVersion } from './setting-files.js';

const dir = mkdtempSync(join(tmpdir(), 'spool-key-file-watch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KEY_A = 'admin-key-a-0123456789';
const KEY_B = 'admin-key-b-0123456789';
const KEY_C = 'admin-key-c-0123456789';

/** Replaces the file whole, as Kubernetes's symlink swap and `mv` do. */
function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.new`, text);
  renameSync(`${path}.new`, path);
}

/**
 * A watch of a file that held `initial` when read; `before`, a change made between that read and
 * the watch's start (a Secret updated as the process starts). `path`: a path set up already.
 */
function watched(
  name: string,
  initial: string[],
  { before, path = join(dir, name) }: { before?: () => void; path?: string } = {},
) {
  if (!statSync(path, { throwIfNoEntry: false })) writeFileSync(path, initial.join('\n'));
  const file = { path, version: fileVersion(statSync(path)) };
  before?.();
  const applied: string[][] = [];
  const lines: { level: string; fields: unknown; message: string }[] = [];
  const log = (level: string) => (fields: unknown, message: string) => lines.push({ level, fields, message });
  const registry = new Registry();
  const watch = watchKeyFile({
    name: 'ADMIN_KEYS',
    readOk: keyFileReadOkGauge(registry),
    file,
    field: adminKeys,
    current: initial,
    keyTexts: (keys) => keys,
    apply: (keys) => applied.push([...keys]),
    logger: { info: log('info'), error: log('error') } as never,
    pollMs: 20,
  });
  const readOk = async () => (await registry.getSingleMetric('spool_key_file_read_ok')?.get())?.values;
  return { path, applied, lines, watch, readOk };
}

const until = async (what: string, done: () => boolean) => {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('watchKeyFile', () => {
  it('puts the keys of a changed file in use, and says how many were added and removed, never which', async () => {
    const { path, applied, lines, watch } = watched('changed', [KEY_A, KEY_B]);
    try {
      writeAtomically(path, `${KEY_B}\n${KEY_C}\n`);
      await until('the change to be read', () => applied.length === 1);
      expect(applied).toEqual([[KEY_B, KEY_C]]);
      expect(lines).toEqual([
        { level: 'info', fields: { keys: 2, added: 1, removed: 1 }, message: 'ADMIN_KEYS_FILE read again' },
      ]);
      expect(JSON.stringify(lines)).not.toMatch(/admin-key-/);
    } finally {
      watch.close();
    }
  });

  it('keeps the keys in use when the file goes, holds nothing, or holds keys the setting refuses', async () => {
    const { path, applied, lines, watch, readOk } = watched('broken', [KEY_A]);
    const inUse = { labels: { setting: 'ADMIN_KEYS' }, value: 1 };
    try {
      expect(await readOk()).toEqual([inUse]);
      for (const [text, says] of [
        ['\n', `ADMIN_KEYS_FILE: "${path}" holds nothing`],
        [`${KEY_A}\nshort\n`, 'ADMIN_KEYS (from ADMIN_KEYS_FILE): key 2 is shorter than 16 characters'],
        [undefined, `ADMIN_KEYS_FILE: "${path}" does not exist`],
      ] as const) {
        const before = lines.length;
        if (text === undefined) rmSync(path);
        else writeAtomically(path, text);
        await until(`"${says}"`, () => lines.length > before);
        expect(lines.at(-1)).toEqual({
          level: 'error',
          fields: { keys: 1 },
          message: `${says}; the keys in use stay as they were until the file is fixed`,
        });
        expect(await readOk()).toEqual([{ ...inUse, value: 0 }]);
      }
      expect(applied).toEqual([]);
      expect(JSON.stringify(lines)).not.toMatch(/admin-key-/);
      // Fixed: in use again, counted against the keys in use all along.
      writeAtomically(path, `${KEY_A}\n${KEY_C}\n`);
      await until('the fixed file to be read', () => applied.length === 1);
      expect(lines.at(-1)?.fields).toEqual({ keys: 2, added: 1, removed: 0 });
      expect(await readOk()).toEqual([inUse]);
    } finally {
      watch.close();
    }
  });

  it('sees a change made after the file was read and before the watch began', async () => {
    const path = join(dir, 'raced');
    const { applied, watch } = watched('raced', [KEY_A], { before: () => writeAtomically(path, KEY_B) });
    try {
      await until('the change to be read', () => applied.length === 1);
      expect(applied).toEqual([[KEY_B]]);
    } finally {
      watch.close();
    }
  });

  it('sees an edit in place whose mtime was set back (cp -p, touch -r), by its ctime', async () => {
    const path = join(dir, 'in-place');
    // A whole second, which a stat reads back exactly: the edit below leaves it as it was.
    const then = new Date('2026-01-01T00:00:00Z');
    writeFileSync(path, KEY_A);
    utimesSync(path, then, then);
    const { applied, watch } = watched('in-place', [KEY_A], { path });
    try {
      writeFileSync(path, KEY_B);
      utimesSync(path, then, then);
      expect(statSync(path).mtimeMs).toBe(then.getTime());
      await until('the change to be read', () => applied.length === 1);
      expect(applied).toEqual([[KEY_B]]);
    } finally {
      watch.close();
    }
  });

  it("sees a Kubernetes Secret's update: the ..data symlink swapped to a new directory", async () => {
    const volume = join(dir, 'secret-volume');
    mkdirSync(join(volume, 'v1'), { recursive: true });
    mkdirSync(join(volume, 'v2'));
    writeFileSync(join(volume, 'v1', 'keys'), KEY_A);
    writeFileSync(join(volume, 'v2', 'keys'), KEY_B);
    symlinkSync('v1', join(volume, '..data'));
    symlinkSync(join('..data', 'keys'), join(volume, 'keys'));
    const { applied, watch } = watched('unused', [KEY_A], { path: join(volume, 'keys') });
    try {
      // As the kubelet's atomic writer swaps it.
      symlinkSync('v2', join(volume, '..data_tmp'));
      renameSync(join(volume, '..data_tmp'), join(volume, '..data'));
      await until('the swap to be read', () => applied.length === 1);
      expect(applied).toEqual([[KEY_B]]);
    } finally {
      watch.close();
    }
  });

  it('reads the file on SIGHUP, and lets SIGHUP go once closed', () => {
    const listeners = process.listenerCount('SIGHUP');
    const { path, applied, watch } = watched('hangup', [KEY_A]);
    expect(process.listenerCount('SIGHUP')).toBe(listeners + 1);
    // Unchanged to the stat (the same size, written within the same poll): only SIGHUP reads it.
    writeFileSync(path, KEY_B);
    process.emit('SIGHUP', 'SIGHUP');
    expect(applied).toEqual([[KEY_B]]);
    watch.close();
    expect(process.listenerCount('SIGHUP')).toBe(listeners);
  });
});
