import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
 * scripts/lib/installers.sh, the same `npm ci`); this is for a stack started otherwise (Jest run
 * by hand).
 */
export function s3StandinMain(): string {
  const standin = join(REPO_ROOT, 'docker/test-images/s3');
  if (!existsSync(join(standin, 'node_modules'))) {
    try {
      execFileSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd: standin,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (error) {
      const said = String((error as { stderr?: Buffer }).stderr ?? '').trim();
      throw new Error(
        `could not install the S3 stand-in's dependencies (npm ci in ${standin}): ${said || (error as Error).message}`,
      );
    }
  }
  return join(standin, 'serve.mjs');
}
