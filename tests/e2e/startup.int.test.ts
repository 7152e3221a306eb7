import { spawnSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { SPOOL_MAINS } from '@spool/testkit';

describe('start-up with a bad configuration', () => {
  it.each([
    ['ingest', { FLUSH_THRESHOLD_BYTES: 'lots' }, /FLUSH_THRESHOLD_BYTES: expected a size/],
    ['ingest', { WRITE_KEYS: 'tiny:web' }, /WRITE_KEYS: entry 1 is not/],
    // Fail closed: an open service is a choice, never the result of a missing Secret.
    ['ingest', {}, /WRITE_KEYS: required, so that only holders of a key can write/],
    ['ingest', { WRITE_KEYS: '' }, /ALLOW_ANONYMOUS_WRITES=true instead/],
    ['flusher', { S3_BUCKET: '' }, /S3_BUCKET: required by the flusher/],
    ['flusher', { S3_BUCKET: 'b', FLUSH_CONCURRENCY: '0' }, /FLUSH_CONCURRENCY: expected a whole number/],
  ] as const)(
    '%s with %p exits 78 naming the variable, before connecting to anything',
    (app, env, message) => {
      const result = spawnSync(process.execPath, [SPOOL_MAINS[app]], {
        env: { PATH: process.env.PATH, REDIS_URL: 'redis://127.0.0.1:1', ...env },
        encoding: 'utf8',
        timeout: 10_000,
      });
      expect(result.status).toBe(78);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toContain('tiny');
    },
  );

  it('flusher with OUTPUT_FORMAT=parquet where DuckDB cannot load exits 78 saying so', () => {
    // A resolve hook that refuses DuckDB, as on a platform without its prebuilt binding.
    const hook = `data:text/javascript,export async function resolve(specifier, context, next) {
      if (specifier === '@duckdb/node-api') throw new Error('no DuckDB binding for this platform');
      return next(specifier, context);
    }`;
    const register = `data:text/javascript,import { register } from 'node:module'; register(${JSON.stringify(hook)});`;
    const result = spawnSync(process.execPath, ['--import', register, SPOOL_MAINS.flusher], {
      env: {
        PATH: process.env.PATH,
        REDIS_URL: 'redis://127.0.0.1:1',
        S3_BUCKET: 'b',
        OUTPUT_FORMAT: 'web:parquet',
      },
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(result.stderr).toMatch(
      /OUTPUT_FORMAT: parquet needs DuckDB \(@duckdb\/node-api\), which cannot load here: no DuckDB binding for this platform/,
    );
    expect(result.status).toBe(78);
  });
});
