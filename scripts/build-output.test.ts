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

  // The images install production dependencies only (`pnpm deploy --prod`): a package the build
  // imports from devDependencies is there in every test and missing in every pod. zod was, and the
  // flusher image stopped at start with ERR_MODULE_NOT_FOUND.
  it.each(PRODUCTION)('of %s imports only packages of its dependencies', (pkg) => {
    const manifest = JSON.parse(readFileSync(join(ROOT, pkg, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    const declared = new Set(Object.keys(manifest.dependencies ?? {}));
    const imported = new Set<string>();
    for (const file of files(join(ROOT, pkg, 'dist')).filter((file) => file.endsWith('.js'))) {
      const text = readFileSync(file, 'utf8');
      // `… from 'x'`, `import 'x'`, `import('x')`, and `require('x')` or `.resolve('x')` (a file of a
      // package read at runtime: @jitsu/js's snippet, which this test missed): not a word "import"
      // inside a string.
      const specifiers = text.matchAll(
        /(?:\bfrom\s+|^import\s+|\bimport\(\s*|\brequire\(\s*|\.resolve\(\s*)['"]([^'"./][^'"]*)['"]/gm,
      );
      for (const [, specifier] of specifiers) {
        if (specifier === undefined || specifier.startsWith('node:')) continue;
        const parts = specifier.split('/');
        imported.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string));
      }
    }
    expect([...imported].filter((name) => !declared.has(name)).sort()).toEqual([]);
  });
});
