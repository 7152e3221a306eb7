import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import { type FileHandle, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The flusher's scratch directories under $TMPDIR (a Parquet flush's staged files and DuckDB's
 * spill; NDJSON is compressed straight into the upload): named
 * `spool-flush-<pid>-…`, so that those a killed flusher left behind can be told
 * from a live one's. The first scratch directory a process makes removes the leftovers: those of
 * processes that are gone, and those with its own pid (a restarted container's flusher is pid 1
 * again, over the same emptyDir, and has made none yet). Another live flusher's are kept: pids
 * are only told apart within one PID namespace, so flusher containers must not share a $TMPDIR
 * (a pod's emptyDir is its own).
 */
const SCRATCH = /^spool-flush-(\d+)-/;

let swept: Promise<void> | undefined;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the scratch directories dead flushers (or this process's previous life) left. */
export async function removeLeftScratch(dir = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(SCRATCH.exec(name)?.[1] ?? Number.NaN);
    if (Number.isNaN(pid) || (pid !== process.pid && alive(pid))) continue;
    // Best effort: one that cannot be removed (another user's, on a shared /tmp) is left, and
    // must not stop this flusher's Parquet flushes.
    const gone = await rm(join(dir, name), { recursive: true, force: true }).then(
      () => true,
      () => false,
    );
    if (gone) removed.push(name);
  }
  return removed;
}

/**
 * The disk a Parquet flush may stage on at once: the generation (up to MAX_BUFFER_BYTES) and its
 * Parquet file (a fifth of it, or less), for each of FLUSH_CONCURRENCY flushes.
 */
export function scratchBytesNeeded(maxBufferBytes: number, flushConcurrency: number): number {
  return Math.ceil(1.2 * maxBufferBytes * flushConcurrency);
}

/**
 * Why $TMPDIR may be too small for Parquet flushes, naming the settings, or undefined. A warning,
 * not a refusal: free space changes, and generations are seldom at MAX_BUFFER_BYTES; a flush
 * that finds the disk full fails and is retried.
 */
export function scratchDiskProblem(
  config: { maxBufferBytes: number; flushConcurrency: number },
  freeBytes: number,
  dir = tmpdir(),
): string | undefined {
  const needed = scratchBytesNeeded(config.maxBufferBytes, config.flushConcurrency);
  if (freeBytes >= needed) return undefined;
  const mib = (bytes: number) => `${Math.ceil(bytes / 1024 / 1024)} MiB`;
  return (
    `${dir} has ${mib(freeBytes)} free; Parquet flushes stage up to 1.2 × MAX_BUFFER_BYTES ` +
    `(${mib(config.maxBufferBytes)}) × FLUSH_CONCURRENCY (${config.flushConcurrency}) = ${mib(needed)} there`
  );
}

/**
 * Why $TMPDIR cannot take Parquet flushes' staged files (it does not exist, is no directory, or
 * cannot be written), naming it, or undefined. Checked at start: the flusher said it was ready,
 * then died on its first look at the disk, exit 1 and a stack trace (a review's run).
 */
export function scratchDirProblem(dir = tmpdir()): string | undefined {
  const problem = (what: string) => `TMPDIR: ${dir} ${what}; Parquet flushes stage their files there`;
  try {
    if (!statSync(dir).isDirectory()) return problem('is not a directory');
    accessSync(dir, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return problem(code === 'ENOENT' ? 'does not exist' : `cannot be written (${code})`);
  }
}

/** The free bytes of the file system that holds $TMPDIR. */
export function scratchFreeBytes(dir = tmpdir()): number {
  const stats = statfsSync(dir);
  return stats.bavail * stats.bsize;
}

/** A new scratch directory; the process's first also removes what dead ones left. */
export async function makeScratchDir(): Promise<string> {
  swept ??= removeLeftScratch().then(() => undefined);
  await swept;
  return mkdtemp(join(tmpdir(), `spool-flush-${process.pid}-`));
}

/**
 * Runs `work` on the path `name` in a new directory of its own, removed after whatever happens:
 * for a tool's one file (a Parquet object downloaded for DuckDB, which reads files, to read).
 */
export async function withScratchFile<T>(name: string, work: (file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'spool-tool-'));
  try {
    return await work(join(dir, name));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes all of `data` at the file's position (a write may take less than it is given). */
export async function writeAll(file: FileHandle, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; ) {
    at += (await file.write(data, at, data.length - at)).bytesWritten;
  }
}
