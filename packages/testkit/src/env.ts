/**
 * Where the integration tests find their services. The Jest global setup fills these from the
 * containers it starts; set them yourself to run the suite against services already running
 * (no Docker at all):
 *
 * - `TEST_REDIS_URL`            e.g. `redis://127.0.0.1:6379`; several, comma-separated, give each
 *                               Jest worker a Redis of its own (as many workers as URLs)
 * - `TEST_S3_ENDPOINT`          e.g. `http://127.0.0.1:9000`
 * - `TEST_S3_ACCESS_KEY_ID`     default `minioadmin`
 * - `TEST_S3_SECRET_ACCESS_KEY` default `minioadmin`
 * - `TEST_S3_REGION`            default `us-east-1`
 * - `TEST_S3_BUCKET`            default `spool-test` (created when missing)
 */
export interface TestServices {
  redisUrl: string;
  s3: {
    endpoint: string;
    region: string;
    bucket: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
}

export const S3_DEFAULTS = Object.freeze({
  accessKeyId: 'minioadmin',
  secretAccessKey: 'minioadmin',
  region: 'us-east-1',
  bucket: 'spool-test',
});

/** The services of this test run; throws when the global setup has not run. */
export function testServices(env: NodeJS.ProcessEnv = process.env): TestServices {
  const redisUrl = workersRedisUrl(env);
  const endpoint = env.TEST_S3_ENDPOINT;
  if (!redisUrl || !endpoint) {
    throw new Error(
      'TEST_REDIS_URL and TEST_S3_ENDPOINT are not set: run integration tests through Jest ' +
        '(its global setup starts the containers) or point them at running services',
    );
  }
  return {
    redisUrl,
    s3: {
      endpoint,
      region: env.TEST_S3_REGION ?? S3_DEFAULTS.region,
      bucket: env.TEST_S3_BUCKET ?? S3_DEFAULTS.bucket,
      credentials: {
        accessKeyId: env.TEST_S3_ACCESS_KEY_ID ?? S3_DEFAULTS.accessKeyId,
        secretAccessKey: env.TEST_S3_SECRET_ACCESS_KEY ?? S3_DEFAULTS.secretAccessKey,
      },
    },
  };
}

/** The Redis URLs of `TEST_REDIS_URL`: one, or one per Jest worker. */
export function testRedisUrls(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.TEST_REDIS_URL ?? '')
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
}

/**
 * This Jest worker's Redis. Test files run in parallel workers; each has a Redis of its own, since
 * the processes a test starts share a Redis's queue and stream registry: one file's flusher would
 * take another's flush jobs.
 */
function workersRedisUrl(env: NodeJS.ProcessEnv): string | undefined {
  const urls = testRedisUrls(env);
  const worker = Number(env.JEST_WORKER_ID ?? 1);
  const index = Number.isInteger(worker) && worker > 0 ? worker - 1 : 0;
  if (urls.length > 0 && index >= urls.length) {
    throw new Error(
      `Jest worker ${worker} has no Redis of its own: TEST_REDIS_URL names ${urls.length}. Name one per worker (comma-separated), or run fewer workers (-w ${urls.length})`,
    );
  }
  return urls[index];
}
