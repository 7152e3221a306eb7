import { describe, expect, it } from '@jest/globals';
import { testRedisUrls, testServices } from './env.js';
import { testImages } from './images.js';
import { randomName } from './names.js';

describe('testServices', () => {
  it('refuses to guess when the global setup has not provided the services', () => {
    expect(() => testServices({})).toThrow(/TEST_REDIS_URL and TEST_S3_ENDPOINT are not set/);
  });

  it('reads running services and fills the S3 defaults', () => {
    const services = testServices({ TEST_REDIS_URL: 'redis://h:1', TEST_S3_ENDPOINT: 'http://h:2' });
    expect(services).toEqual({
      redisUrl: 'redis://h:1',
      s3: {
        endpoint: 'http://h:2',
        region: 'us-east-1',
        bucket: 'spool-test',
        credentials: { accessKeyId: 'minioadmin', secretAccessKey: 'minioadmin' },
      },
    });
  });

  it('gives each Jest worker its own Redis when several are named, and refuses a worker past them', () => {
    const env = { TEST_REDIS_URL: 'redis://h:1, redis://h:2', TEST_S3_ENDPOINT: 'http://h:3' };
    expect(testServices({ ...env, JEST_WORKER_ID: '1' }).redisUrl).toBe('redis://h:1');
    expect(testServices({ ...env, JEST_WORKER_ID: '2' }).redisUrl).toBe('redis://h:2');
    expect(testServices(env).redisUrl).toBe('redis://h:1');
    // More workers than servers would put two on one Redis, where one's flusher takes the other's jobs.
    expect(() => testServices({ ...env, JEST_WORKER_ID: '3' })).toThrow(
      'Jest worker 3 has no Redis of its own: TEST_REDIS_URL names 2',
    );
    expect(testRedisUrls(env)).toEqual(['redis://h:1', 'redis://h:2']);
  });
});

describe('testImages', () => {
  it('defaults to the upstream images so an ordinary CI needs no local builds', () => {
    expect(testImages({})).toEqual({ redis: 'redis:7.4', s3: 'minio/minio:latest' });
  });

  it('takes the images named in the environment', () => {
    expect(
      testImages({ SPOOL_TEST_REDIS_IMAGE: 'valkey/valkey:8', SPOOL_TEST_S3_IMAGE: 'local/s3' }),
    ).toEqual({
      redis: 'valkey/valkey:8',
      s3: 'local/s3',
    });
  });
});

describe('randomName', () => {
  it('gives a different valid stream name each time', () => {
    const names = new Set(Array.from({ length: 100 }, () => randomName('it')));
    expect(names.size).toBe(100);
    for (const name of names) expect(name).toMatch(/^[a-z0-9][a-z0-9_-]{0,63}$/);
  });
});
