import { fileURLToPath } from 'node:url';
import { testServices } from './env.js';

/**
 * Node's flags for each app, as its image and its `start` script run it (a test holds them to
 * this). The flusher's young generation is capped at 2 MiB semi-spaces: its garbage is small
 * objects while its data lives in Buffers, and V8's default (16 MiB) only raised its resident
 * memory, by some 20 MiB idle and 40-55 MiB at a flush's peak (docs/benchmarks.md, d, j, k).
 */
export const SPOOL_NODE_FLAGS = {
  ingest: [],
  flusher: ['--max-semi-space-size=2'],
} as const satisfies Record<string, readonly string[]>;

/** The built entry points of Spool's two processes (`tsc -b` first). */
export const SPOOL_MAINS = {
  // From packages/testkit/{src,dist}/ to the repository root.
  ingest: fileURLToPath(new URL('../../../apps/ingest/dist/main.js', import.meta.url)),
  flusher: fileURLToPath(new URL('../../../apps/flusher/dist/main.js', import.meta.url)),
} as const;

/**
 * Environment for an ingest on the test run's Redis: open, and said so (the tests present no
 * write key unless they set WRITE_KEYS), quiet unless the test asks.
 */
export function ingestTestEnv(env: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: testServices().redisUrl,
    LOG_LEVEL: 'silent',
    ...(env.WRITE_KEYS ? {} : { ALLOW_ANONYMOUS_WRITES: 'true' }),
    ...env,
  };
}

/** Environment that points a flusher (in process, or a child process) at the test run's services. */
export function flusherTestEnv(env: Record<string, string> = {}): Record<string, string> {
  const services = testServices();
  return {
    REDIS_URL: services.redisUrl,
    S3_BUCKET: services.s3.bucket,
    S3_ENDPOINT: services.s3.endpoint,
    S3_REGION: services.s3.region,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: services.s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: services.s3.credentials.secretAccessKey,
    LOG_LEVEL: 'silent',
    ...env,
  };
}
