import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RedisClient } from '@spool/shared';
import { makeTestCertificates } from '@spool/testkit';
import { LocalStack } from '@spool/testkit/local-stack';
import { type Acknowledged, countLanded, send, stackS3 } from './cluster-support.js';

/**
 * A Redis Cluster that speaks only TLS, on every link, with a certificate from a private CA: the
 * pipeline runs on it from `rediss://` seeds, trusting the CA through NODE_EXTRA_CA_CERTS as a
 * container would (docker/with-extra-ca). 3 masters, no replicas: this is about the connections.
 */
const dir = mkdtempSync(join(tmpdir(), 'spool-tls-'));
let stack: LocalStack;
let redis: RedisClient;
let s3: S3Client;

beforeAll(async () => {
  const tls = makeTestCertificates(dir, ['IP:127.0.0.1', 'DNS:localhost']);
  stack = await LocalStack.start({ redis: { cluster: { masters: 3, replicasPerMaster: 0, tls } } });
  const env = { FLUSH_THRESHOLD_BYTES: '64KiB', FLUSH_INTERVAL: '2s', NODE_EXTRA_CA_CERTS: tls.caFile };
  await stack.addIngest(env);
  await stack.addFlusher(env);
  redis = stack.connectRedis({ tls: { ca: readFileSync(tls.caFile) } });
  s3 = stackS3(stack);
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  s3?.destroy();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('Spool on a Redis Cluster over TLS', () => {
  it('takes rediss:// seeds and lands every event exactly once', async () => {
    expect(stack.redisCluster?.seeds).toMatch(/^rediss:\/\/127\.0\.0\.1:\d+,/);
    const acknowledged: Acknowledged = new Map();
    const ingests = stack.ingests.map((ingest) => ingest.url);
    await Promise.all(
      ['tls-a', 'tls-b', 'tls-c'].map((stream) => send(ingests, stream, 1_500, 50, acknowledged)),
    );
    const landing = await countLanded(redis, s3, stack.s3?.bucket as string, acknowledged);
    expect(landing).toMatchObject({ lost: [], duplicated: [], unexpected: [], landed: 4_500 });
  });
});
