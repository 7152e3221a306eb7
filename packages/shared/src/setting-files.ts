import { readFileSync, type Stats, statSync } from 'node:fs';

/**
 * Settings that may come from a file instead, `<NAME>_FILE=<path>`, as Docker's and Kubernetes's
 * mounted secrets give them (the Postgres and Grafana images' convention): secrets kept out of
 * the environment, which `docker inspect` and `/proc/<pid>/environ` show, and `WRITE_KEYS`
 * longer than Linux lets one environment string be (128 KiB, some 2,500 keys). Each maps to what
 * a line break in the file stands for: a file holds one entry a line, or the variable's own
 * text. A URL is one line.
 */
export const FILE_SETTINGS = {
  WRITE_KEYS: ';',
  ADMIN_KEYS: ',',
  REDIS_URL: undefined,
  REDIS_CLUSTER_NODES: ',',
} as const satisfies Record<string, string | undefined>;

export type FileSetting = keyof typeof FILE_SETTINGS;

/** `WRITE_KEYS` → `WRITE_KEYS_FILE`. */
export const fileSettingName = (name: FileSetting) => `${name}_FILE` as const;

/** A file larger than this is no list of keys: a path mistaken (a log, a disk image). */
export const MAX_SETTING_FILE_BYTES = 16 * 1024 * 1024;

/** A file a setting was read from. */
export interface SettingFile {
  path: string;
  /** Its `fileVersion` when read: what a watch compares later looks with. */
  version: string;
}

/**
 * What tells one content of a file from another without reading it: the file it is (a Secret's
 * update swaps a symlink to another), its size, and both its times (`cp -p` and `touch -r` set
 * mtime back; nothing in userland sets ctime, which a chmod changes too).
 */
export function fileVersion(stat: Stats): string {
  return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
}

export interface SettingFiles {
  /** The values read, by setting name (`WRITE_KEYS`), to stand where the variable would. */
  values: Record<string, string>;
  /** The file each was read from, by setting name. */
  files: Partial<Record<FileSetting, SettingFile>>;
  /** What is wrong, one line each, naming the `_FILE` variable and the path, never what the file holds. */
  problems: string[];
}

/**
 * Reads the files the `<NAME>_FILE` variables of `env` name (`env` holds only what this process
 * reads: another process's file may not be mounted here). Refused: a file and the variable both
 * set, a path that is no readable regular file (a FIFO would hold the start for good), a
 * file over MAX_SETTING_FILE_BYTES, and one that holds nothing (an admin key file mounted empty
 * must not open the admin views).
 */
export function readSettingFiles(env: Record<string, string | undefined>): SettingFiles {
  const values: Record<string, string> = {};
  const files: Partial<Record<FileSetting, SettingFile>> = {};
  const problems: string[] = [];
  for (const [name, lineBreak] of Object.entries(FILE_SETTINGS) as [FileSetting, string | undefined][]) {
    const variable = fileSettingName(name);
    const path = env[variable];
    if (path === undefined) continue;
    if (env[name] !== undefined) {
      problems.push(`${variable}: ${name} is set too; choose one`);
      continue;
    }
    const read = readSettingFile(path);
    if ('problem' in read) {
      problems.push(`${variable}: "${path}" ${read.problem}`);
      continue;
    }
    const { text, version } = read;
    const lines = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '');
    if (lines.length === 0) problems.push(`${variable}: "${path}" holds nothing`);
    else if (lineBreak === undefined && lines.length > 1)
      problems.push(`${variable}: "${path}" holds more than one line`);
    else {
      values[name] = lines.join(lineBreak ?? '');
      files[name] = { path, version };
    }
  }
  return { values, files, problems };
}

function readSettingFile(path: string): { text: string; version: string } | { problem: string } {
  try {
    const stat = statSync(path);
    if (!stat.isFile()) return { problem: 'is not a regular file' };
    if (stat.size > MAX_SETTING_FILE_BYTES)
      return { problem: `is larger than ${MAX_SETTING_FILE_BYTES / 1024 ** 2}MiB` };
    // A byte-order mark from an editor on Windows is no part of the first key.
    return { text: readFileSync(path, 'utf8').replace(/^\uFEFF/, ''), version: fileVersion(stat) };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: 'does not exist' };
    if (code === 'EACCES') return { problem: 'cannot be read by this process (permission denied)' };
    return { problem: `cannot be read (${code ?? (error as Error).message})` };
  }
}
