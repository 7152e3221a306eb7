import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

/**
 * The production build holds production code only: no tests, no test support, no test harness.
 * It reads what `tsc -b` (make test's type-check phase) built into each package's dist/.
 */
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PRODUCTION = ['packages/shared', 'apps/ingest', 'apps/flusher'];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

describe('the production build', () => {
  it.each(PRODUCTION)('of %s holds no test code', (pkg) => {
    const dist = join(ROOT, pkg, 'dist');
    expect(existsSync(dist) ? dist : `${dist} is missing: run tsc -b first`).toBe(dist);
    const built = files(dist);
    expect(built.some((file) => file.endsWith('main.js') || file.endsWith('index.js'))).toBe(true);
    expect(built.filter((file) => /\.test\.|test-support|[/\\]test[/\\]/.test(file))).toEqual([]);
    const harness = built.filter(
      (file) =>
        file.endsWith('.js') && /@spool\/testkit|testcontainers|@jest\//.test(readFileSync(file, 'utf8')),
    );
    expect(harness).toEqual([]);
  });
});
