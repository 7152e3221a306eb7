/** The oldest Node.js Spool runs on, as package.json's `engines` says: for JSON.rawJSON and zlib's zstd. */
export const OLDEST_NODE = '22.15';

/** What is wrong with running on Node.js `version` (as process.version), if anything. */
export function oldNodeProblem(version: string): string | undefined {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  const [oldestMajor = 0, oldestMinor = 0] = OLDEST_NODE.split('.').map(Number);
  if (major > oldestMajor || (major === oldestMajor && minor >= oldestMinor)) return undefined;
  return `needs Node.js ${OLDEST_NODE} or later; this is ${version}`;
}

/**
 * Exits 78 (EX_CONFIG), saying which Node.js is needed, on an older one. On Debian's Node 20 the
 * ingest started and answered every event 500 (no JSON.isRawJSON), and the flusher and the CLI
 * ended on a SyntaxError about zlib's exports.
 */
export function refuseOldNode(name: string): void {
  const problem = oldNodeProblem(process.version);
  if (!problem) return;
  process.stderr.write(`${name}: ${problem}\n`);
  process.exit(78);
}
