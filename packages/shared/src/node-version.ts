import * as zlib from 'node:zlib';

/**
 * The Node.js versions Spool runs on, as package.json's `engines` says: those with zlib's zstd
 * (22.15 in 22, 23.8 in 23) and JSON.rawJSON.
 */
export const NODE_ENGINES = '^22.15.0 || >=23.8.0';

/** What this Node.js lacks of what Spool uses, by name. */
export function missingNodeFeatures(): string[] {
  const missing: string[] = [];
  if (typeof zlib.createZstdCompress !== 'function') missing.push("zlib's zstd");
  if (typeof (JSON as { rawJSON?: unknown }).rawJSON !== 'function') missing.push('JSON.rawJSON');
  return missing;
}

/** What is wrong with running on Node.js `version` (as process.version) that lacks `missing`, if anything. */
export function oldNodeProblem(version: string, missing: readonly string[]): string | undefined {
  if (missing.length === 0) return undefined;
  return `needs Node.js 22.15 or later (23.8 or later in 23) for ${missing.join(' and ')}; this is ${version}`;
}

/**
 * Exits 78 (EX_CONFIG), saying which Node.js is needed, on one without what Spool uses. On
 * Debian's Node 20 the ingest started and answered every event 500 (no JSON.isRawJSON), and the
 * flusher and the CLI ended on a SyntaxError about zlib's exports; on Node 23.7, which has
 * JSON.rawJSON and no zstd, the flusher started, ready, and failed every zstd flush for good (a
 * review's run). What is asked is the features themselves, not a version range.
 */
export function refuseOldNode(name: string): void {
  const problem = oldNodeProblem(process.version, missingNodeFeatures());
  if (!problem) return;
  process.stderr.write(`${name}: ${problem}\n`);
  process.exit(78);
}
