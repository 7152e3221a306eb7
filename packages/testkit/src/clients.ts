import { S3Client } from '@aws-sdk/client-s3';
import { Redis, type RedisOptions } from 'ioredis';
import { type TestServices, testServices } from './env.js';

/** A Redis client for the test run's Redis; the caller quits it. */
export function createTestRedis(options: RedisOptions = {}, services: TestServices = testServices()): Redis {
  return new Redis(services.redisUrl, { maxRetriesPerRequest: 1, ...options });
}

/** An S3 client for the test run's S3-compatible server; the caller destroys it. */
export function createTestS3(services: TestServices = testServices()): S3Client {
  return new S3Client({
    endpoint: services.s3.endpoint,
    region: services.s3.region,
    credentials: services.s3.credentials,
    forcePathStyle: true,
    // Checksums in the AWS SDK's newer default form are not understood by every S3-compatible
    // store; ask for them only where the API requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/**
 * The maxmemory `redis` has now, and a way to give it back: a test that sets one restores what it
 * found, not 0. On an existing Redis (TEST_REDIS_URL, the README's "no Docker at all") a
 * deployment's maxmemory was left at 0 for good, its REDIS_MEMORY_RESERVE off (a review's run).
 */
export async function keptMaxmemory(redis: Redis): Promise<{ restore(): Promise<void> }> {
  const [, found = '0'] = (await redis.config('GET', 'maxmemory')) as string[];
  return {
    restore: async () => {
      await redis.config('SET', 'maxmemory', found);
    },
  };
}
