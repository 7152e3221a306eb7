import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type RedisClient, streamKeys } from '@spool/shared';
import { LocalStack } from '@spool/testkit/local-stack';
import { type Acknowledged, countLanded, send, stackS3 } from './cluster-support.js';

/**
 * The whole pipeline on a local Redis Cluster of 3 masters and 3 replicas: two ingests and two
 * flushers in Cluster mode (REDIS_CLUSTER_NODES), streams spread over the masters by their hash
 * tags, every event landing exactly once.
 */
let stack: LocalStack;
let redis: RedisClient;
let s3: S3Client;

beforeAll(async () => {
  stack = await LocalStack.start({ redis: { cluster: { masters: 3, replicasPerMaster: 1 } } });
  const pipeline = { FLUSH_THRESHOLD_BYTES: '64KiB', MAX_BUFFER_BYTES: '16MiB', FLUSH_INTERVAL: '2s' };
  for (let i = 0; i < 2; i += 1) {
    await stack.addIngest(pipeline);
    await stack.addFlusher(pipeline);
  }
  redis = stack.connectRedis();
  s3 = stackS3(stack);
}, 120_000);

afterAll(async () => {
  redis?.disconnect();
  s3?.destroy();
  await stack?.stop();
});

describe('Spool on a Redis Cluster', () => {
  it('lands the events of 20 streams exactly once, their keys on every master', async () => {
    const acknowledged: Acknowledged = new Map();
    const ingests = stack.ingests.map((ingest) => ingest.url);
    const streams = Array.from({ length: 20 }, (_, i) => `cluster-${i}`);
    // 1,500 events of ~90 bytes as stored a stream: each stream crosses the 64 KiB threshold.
    await Promise.all(streams.map((stream) => send(ingests, stream, 1_500, 50, acknowledged)));

    const landing = await countLanded(redis, s3, stack.s3?.bucket as string, acknowledged);
    expect(landing.lost).toEqual([]);
    expect(landing.duplicated).toEqual([]);
    expect(landing.unexpected).toEqual([]);
    expect(landing.landed).toBe(20 * 1_500);

    // Each stream's keys sit on the master that serves its slot: more than one master holds some.
    const cluster = stack.redisCluster;
    if (!cluster) throw new Error('the stack runs no cluster');
    const holders = new Set<number>();
    for (const stream of streams) {
      const stats = streamKeys(stream).stats;
      const master = await cluster.masterOf(stats);
      expect(await cluster.call(master, 'EXISTS', stats)).toBe(1);
      holders.add(master);
    }
    expect(holders.size).toBe(3);
  });
});
