import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository this module runs from (packages/testkit/{src,dist}/local-stack/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** The credentials every local stack gives its S3 stand-in: a local secret, not a real one. */
export const LOCAL_S3_CREDENTIALS = Object.freeze({
  accessKeyId: 'spool',
  secretAccessKey: 'spool-local-secret',
});

/**
 * The entry point of the S3-compatible stand-in (s3rver behind MinIO's interface,
 * docker/test-images/s3), its dependencies installed first when a fresh clone has not got them.
 * The scripts install them before this, as a named phase (`ensure_s3_standin` in
 * scripts/lib/installers.sh, the same `npm ci`), and so does Jest's global setup; this is for a
 * stack started otherwise. Two processes that install at once in one folder both fail: this is
 * not for several at once.
 */
export function s3StandinMain(): string {
  const standin = join(REPO_ROOT, 'docker/test-images/s3');
  // Installed once the stamp names the lock installed: an `npm ci` killed partway leaves a
  // node_modules that is not (the same rule as ensure_s3_standin's).
  const stamp = join(standin, 'node_modules/.spool-lock-hash');
  const want = createHash('sha256')
    .update(readFileSync(join(standin, 'package-lock.json')))
    .digest('hex')
    .slice(0, 16);
  if (readOrNothing(stamp).trim() !== want) {
    try {
      execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd: standin,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      writeFileSync(stamp, `${want}\n`);
    } catch (error) {
      const said = String((error as { stderr?: Buffer }).stderr ?? '').trim();
      throw new Error(
        `could not install the S3 stand-in's dependencies (npm ci in ${standin}): ${said || (error as Error).message}`,
      );
    }
  }
  return join(standin, 'serve.mjs');
}

function readOrNothing(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
