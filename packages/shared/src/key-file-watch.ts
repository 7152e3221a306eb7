import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import type { z } from 'zod';
import {
  type FileSetting,
  fileSettingName,
  fileVersion,
  readSettingFiles,
  type SettingFile,
} from './setting-files.js';

/**
 * How often a key file is looked at (one stat): Kubernetes swaps a mounted Secret's files within
 * its kubelet's sync period (a minute by default), so keys rotate in about that long.
 */
const KEY_FILE_POLL_MS = 10_000;

/** The gauge of a process's key files: set only for those it watches (a label each). */
export function keyFileReadOkGauge(registry: Registry): Gauge<'setting'> {
  return new Gauge({
    name: 'spool_key_file_read_ok',
    help: "1 when the key file's last read was put in use, 0 when a change was refused (the keys in use are older than the file), by setting",
    labelNames: ['setting'] as const,
    registers: [registry],
  });
}

export interface KeyFileWatch {
  /** Reads the file again now, as SIGHUP does. */
  reload(): void;
  close(): void;
}

export interface KeyFileWatchOptions<T> {
  /** `WRITE_KEYS` or `ADMIN_KEYS`. */
  name: FileSetting;
  /** The file, as it was when `current` was read from it (config.settingFiles). */
  file: SettingFile;
  /** The setting's own check (config-fields.ts): a file is held to what the variable is. */
  field: z.ZodType<T>;
  /** Puts the keys read in use; called only with keys that passed the check. */
  apply(keys: T): void;
  /** The keys' own texts, to count those added and removed (never logged). */
  keyTexts(keys: T): readonly string[];
  current: T;
  logger: Pick<Logger, 'info' | 'error'>;
  /** `spool_key_file_read_ok` of the process's metrics (`keyFileReadOkGauge`). */
  readOk: Gauge<'setting'>;
  pollMs?: number;
}

/**
 * Keys given in a file (`WRITE_KEYS_FILE`, `ADMIN_KEYS_FILE`) are read again when the file
 * changes, and on SIGHUP (`kill -HUP`: now, rather than at the next look): a key is added or
 * revoked without a restart, as a mounted Secret changes. SIGHUP is taken only while a key file
 * is watched: otherwise it keeps its default (the process ends), which `make dev` relies on when
 * its terminal closes; each app's sighup-guard.ts keeps it from ending a process with a key file
 * before and after the watch. A file that cannot be read or holds keys the setting refuses (or none) is
 * said in an error, and the keys in use stay as they were: an edit half made must not lock every
 * client out or open the service. Only counts are logged, never a key.
 */
export function watchKeyFile<T>(options: KeyFileWatchOptions<T>): KeyFileWatch {
  const variable = fileSettingName(options.name);
  const { path } = options.file;
  let current = options.keyTexts(options.current);
  // Compared with the file as `current` was read from it, not as first looked at here: a change
  // in between (a Secret updated as the process starts) was missed until the next one.
  let seen = options.file.version;
  // 0 while the file holds what is not in use: a key revoked there may still be let in
  // (SpoolKeyFileRefused). Read whole at start, or the process would not have started.
  const readOk = options.readOk.labels(options.name);
  readOk.set(1);
  const reload = () => {
    const read = readSettingFiles({ [variable]: path });
    const parsed =
      read.problems.length === 0 ? options.field.safeParse(read.values[options.name]) : undefined;
    if (parsed === undefined || !parsed.success) {
      const problem =
        read.problems[0] ?? `${options.name} (from ${variable}): ${parsed?.error.issues[0]?.message}`;
      options.logger.error(
        { keys: current.length },
        `${problem}; the keys in use stay as they were until the file is fixed`,
      );
      readOk.set(0);
      return;
    }
    seen = read.files[options.name]?.version ?? seen;
    const next = options.keyTexts(parsed.data);
    const before = new Set(current);
    const after = new Set(next);
    options.apply(parsed.data);
    current = next;
    readOk.set(1);
    options.logger.info(
      {
        keys: next.length,
        added: next.filter((key) => !before.has(key)).length,
        removed: [...before].filter((key) => !after.has(key)).length,
      },
      `${variable} read again`,
    );
  };
  // A stat a look, through the path (a Secret's update swaps a symlink, so the file's own inode
  // is not the one to watch). A look's stat is awaited before the next is taken.
  let looking = false;
  const look = async () => {
    if (looking) return;
    looking = true;
    try {
      const now = await stat(path).then(fileVersion, (error: NodeJS.ErrnoException) => `error:${error.code}`);
      if (now !== seen) {
        seen = now;
        reload();
      }
    } finally {
      looking = false;
    }
  };
  const timer = setInterval(() => void look(), options.pollMs ?? KEY_FILE_POLL_MS);
  timer.unref();
  const onHangup = () => reload();
  process.on('SIGHUP', onHangup);
  return {
    reload,
    close: () => {
      process.off('SIGHUP', onHangup);
      clearInterval(timer);
    },
  };
}
