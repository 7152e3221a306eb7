import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineSpoolCommands, loadConfig, recordRejected, redisNow, streamKeys } from '@spool/shared';
import { createTestRedis, flusherTestEnv, listObjectKeys, randomName, testServices } from '@spool/testkit';
import { S3FaultProxy } from '@spool/testkit/local-stack';
import { pino } from 'pino';
import { fillBuffer } from '../test/support.js';
import { createS3Client } from './clients.js';
import { flushGeneration } from './flush-generation.js';
import { createFlusherMetrics } from './metrics.js';
import { drainQuarantine } from './quarantine.js';

const { s3: services } = testServices();
const redis = createTestRedis();
defineSpoolCommands(redis);
let proxy: S3FaultProxy;
// The flusher's S3 client takes its credentials from the environment, as the AWS SDK does.
const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY } = flusherTestEnv();
Object.assign(process.env, { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY });
/** Reads the store directly, not through the policy. */
const reader = createS3Client(loadConfig(flusherTestEnv(), 'flusher').s3);
const KMS_KEY = 'alias/spool-test';

beforeAll(async () => {
  proxy = await S3FaultProxy.start(services.endpoint);
  // As AWS's usual policy for SSE-KMS: no object without aws:kms under this key.
  proxy.requireEncryption = { sse: 'aws:kms', kmsKeyId: KMS_KEY };
});
afterAll(async () => {
  await proxy.close();
  await redis.quit();
  reader.destroy();
});

/** The flusher's S3 client and settings, as it builds them from `env`, through the proxy. */
function flusherDeps(prefix: string, env: Record<string, string>) {
  const config = loadConfig(
    flusherTestEnv({ S3_PREFIX: prefix, S3_ENDPOINT: proxy.endpoint, S3_PART_SIZE: '5MiB', ...env }),
    'flusher',
  );
  const s3 = createS3Client(config.s3);
  return { config, redis, s3, logger: pino({ level: 'silent' }), metrics: createFlusherMetrics() };
}

/** A stream with `bytes` of barely compressible events, and `rejected` kept refused events. */
async function streamToFlush(bytes: number, rejected: number): Promise<string> {
  const stream = randomName('sse');
  const keys = streamKeys(stream);
  await fillBuffer(redis, keys, bytes, { random: true });
  const entry = JSON.stringify({
    receivedAt: new Date().toISOString(),
    requestId: 'r',
    code: 'X',
    text: '{',
  });
  await recordRejected(
    redis,
    keys,
    { count: rejected, entries: Array(rejected).fill(entry), stored: false },
    10,
  );
  return stream;
}

describe('S3_SERVER_SIDE_ENCRYPTION', () => {
  it.each([
    ['in one PutObject', 64 * 1024],
    ['in parts (CreateMultipartUpload)', 14 * 1024 * 1024],
  ])(
    'asks for it on every object a flush writes, %s, with its manifest and quarantine: a bucket policy requiring SSE-KMS lets them all through',
    async (_, bytes) => {
      const prefix = `${randomName('sse')}/`;
      const deps = flusherDeps(prefix, { S3_SERVER_SIDE_ENCRYPTION: 'aws:kms', S3_SSE_KMS_KEY_ID: KMS_KEY });
      const stream = await streamToFlush(bytes, 3);
      const before = { ...proxy.encryptionChecks };
      try {
        const outcome = await flushGeneration(deps, stream, 0);
        expect(outcome.status).toBe('uploaded');
        const quarantined = await drainQuarantine(
          { redis, s3: deps.s3, bucket: services.bucket, prefix, namespace: deps.config.namespace },
          stream,
          (await redisNow(redis)) + 3_600_000,
          { fullAt: 1, maxAgeMs: 0 },
        );
        expect(quarantined).toBeDefined();
      } finally {
        deps.s3.destroy();
      }
      const keys = await listObjectKeys(reader, services.bucket, prefix);
      expect(keys).toEqual([
        expect.stringContaining(`${prefix}_manifests/`),
        expect.stringContaining(`${prefix}_quarantine/`),
        expect.stringMatching(/\.ndjson\.gz$/),
      ]);
      // In parts or whole, as the case says.
      expect(proxy.encryptionChecks.parts > before.parts).toBe(bytes > 5 * 1024 * 1024);
      // Each of the three asked, and none was refused.
      expect(proxy.encryptionChecks.refused).toBe(before.refused);
      expect(proxy.encryptionChecks.passed - before.passed).toBe(3);
    },
  );

  it('unset, asks for none: the same policy refuses the flush, and the generation lands whole once it is set', async () => {
    const prefix = `${randomName('sse')}/`;
    const unset = flusherDeps(prefix, {});
    const stream = await streamToFlush(64 * 1024, 0);
    const before = proxy.encryptionChecks.refused;
    try {
      await expect(flushGeneration(unset, stream, 0)).rejects.toMatchObject({ name: 'AccessDenied' });
    } finally {
      unset.s3.destroy();
    }
    expect(proxy.encryptionChecks.refused).toBeGreaterThan(before);
    expect(await listObjectKeys(reader, services.bucket, prefix)).toEqual([]);
    const set = flusherDeps(prefix, { S3_SERVER_SIDE_ENCRYPTION: 'aws:kms', S3_SSE_KMS_KEY_ID: KMS_KEY });
    try {
      const retried = await flushGeneration(set, stream, 0);
      expect(retried.status).toBe('uploaded');
    } finally {
      set.s3.destroy();
    }
  });
});
