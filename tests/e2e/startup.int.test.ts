import { spawnSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { SPOOL_MAINS, testServices } from '@spool/testkit';

describe('start-up with a bad configuration', () => {
  it.each([
    ['ingest', { FLUSH_THRESHOLD_BYTES: 'lots' }, /FLUSH_THRESHOLD_BYTES: expected a size/],
    ['ingest', { WRITE_KEYS: 'tiny:web' }, /WRITE_KEYS: entry 1 is not/],
    // Fail closed: an open service is a choice, never the result of a missing Secret.
    ['ingest', {}, /WRITE_KEYS: required, so that only holders of a key can write/],
    ['ingest', { WRITE_KEYS: '' }, /ALLOW_ANONYMOUS_WRITES=true instead/],
    ['flusher', { S3_BUCKET: '' }, /S3_BUCKET: required by the flusher/],
    ['flusher', { S3_BUCKET: 'b', FLUSH_CONCURRENCY: '0' }, /FLUSH_CONCURRENCY: expected a whole number/],
    // Values that once passed the checks, then crashed later or retried for ever.
    ['ingest', { WRITE_KEYS: 'tiny-but-ok:web', TRUST_PROXY: '999.1.1.1' }, /TRUST_PROXY: expected false/],
    [
      'ingest',
      { WRITE_KEYS: 'tiny-but-ok:web', REDIS_URL: 'http://127.0.0.1:1' },
      /REDIS_URL: expected redis:/,
    ],
    ['flusher', { S3_BUCKET: 'b', S3_ENDPOINT: '127.0.0.1:9000' }, /S3_ENDPOINT: expected an http/],
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

  it.each(['ingest', 'flusher'] as const)(
    '%s with a HOST that does not resolve exits 78 naming HOST and PORT',
    (app) => {
      const result = spawnSync(process.execPath, [SPOOL_MAINS[app]], {
        env: {
          PATH: process.env.PATH,
          // A Redis that answers: the flusher starts its worker before it listens.
          REDIS_URL: testServices().redisUrl,
          ALLOW_ANONYMOUS_WRITES: 'true',
          S3_BUCKET: 'b',
          S3_ENDPOINT: 'http://127.0.0.1:1',
          HOST: 'no-such-host.invalid',
          PORT: '0',
        },
        encoding: 'utf8',
        timeout: 10_000,
      });
      expect(result.stdout).toContain('cannot listen on HOST=no-such-host.invalid PORT=0');
      expect(result.status).toBe(78);
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
