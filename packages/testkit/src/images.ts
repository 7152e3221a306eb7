import { readFileSync } from 'node:fs';

const upstream = JSON.parse(readFileSync(new URL('../images.json', import.meta.url), 'utf8')) as {
  redis: string;
  s3: string;
};

/**
 * The images the harness starts. Defaults are the upstream images; `make test` overrides them
 * with locally built stand-ins where no registry can be reached (scripts/test-images.sh).
 */
export function testImages(env: NodeJS.ProcessEnv = process.env): { redis: string; s3: string } {
  return {
    redis: env.SPOOL_TEST_REDIS_IMAGE || upstream.redis,
    s3: env.SPOOL_TEST_S3_IMAGE || upstream.s3,
  };
}
