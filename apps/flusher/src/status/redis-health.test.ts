import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import type { RedisClient } from '@spool/shared';
import { healthOf, warnOfRedisRisks } from './redis-health.js';

/** One master's INFO memory and persistence, as Redis writes them. */
const info = (usedMemory: number, maxMemory: number, policy = 'noeviction') =>
  [
    '# Memory',
    `used_memory:${usedMemory}`,
    `maxmemory:${maxMemory}`,
    `maxmemory_policy:${policy}`,
    '# Persistence',
    'aof_enabled:1',
  ].join('\r\n');

const GiB = 1024 ** 3;

describe('the Redis health of the status', () => {
  it('warns of one server over 80% of its maxmemory, and not under', () => {
    expect(healthOf([info(0.9 * GiB, GiB)]).warnings).toEqual(['Redis uses 90% of its maxmemory']);
    expect(healthOf([info(0.5 * GiB, GiB)]).warnings).toEqual([]);
  });

  it('warns of one full master of a cluster, whatever room the others have or whether they have a limit', () => {
    const oneFull = healthOf([info(0.99 * GiB, GiB), info(0.1 * GiB, GiB), info(0.1 * GiB, GiB)]);
    expect(oneFull.warnings).toEqual([
      '1 of 3 Redis masters use over 80% of their maxmemory (the fullest 99% of its maxmemory)',
    ]);
    expect(healthOf([info(0.99 * GiB, GiB), info(5 * GiB, 0)]).warnings).toHaveLength(1);
    expect(healthOf([info(0.99 * GiB, GiB), info(5 * GiB, 0)]).maxMemoryBytes).toBe(0);
  });

  it('warns of eviction, and notes AOF off apart: a setting a deployment may have chosen, or may not change', () => {
    const health = healthOf([info(1, 0, 'allkeys-lru').replace('aof_enabled:1', 'aof_enabled:0')]);
    expect(health.warnings).toEqual([
      'maxmemory-policy is allkeys-lru: Redis may evict buffers to make room (data loss); set noeviction',
    ]);
    expect(health.notes).toEqual([
      'AOF is off: a Redis restart loses every event not yet in S3, and the messageIds dedupe remembers (retries of events already in S3 are stored again); set appendonly yes',
    ]);
    expect(healthOf([info(1, 0)]).notes).toEqual([]);
  });

  it('notes a master that frees expired keys on its main thread (lazyfree-lazy-expire no), and not where CONFIG is forbidden', () => {
    const health = healthOf([info(1, 0), info(1, 0)], ['yes', 'no']);
    expect(health.notes).toEqual([
      'lazyfree-lazy-expire is no: an expiring dedupe set of millions of messageIds blocks Redis for seconds (appends answered 503); set lazyfree-lazy-expire yes',
    ]);
    expect(health.warnings).toEqual([]);
    expect(healthOf([info(1, 0)], ['yes']).notes).toEqual([]);
    expect(healthOf([info(1, 0)], [undefined]).notes).toEqual([]);
  });
});

describe("the start's warning of Redis's setup", () => {
  /** A Redis whose first `failures` INFO calls fail (a Cluster master not answering yet, a slow INFO). */
  class FlakyRedis extends EventEmitter {
    status = 'connecting';
    infoCalls = 0;
    constructor(private readonly failures: number) {
      super();
    }
    async info() {
      this.infoCalls += 1;
      if (this.infoCalls <= this.failures) throw new Error('Command timed out');
      return info(0, 0, 'allkeys-lru').replace('aof_enabled:1', 'aof_enabled:0');
    }
    async call() {
      return ['lazyfree-lazy-expire', 'yes'];
    }
  }

  it('waits for Redis, and is said once a check answers, checks that fail made again', async () => {
    const redis = new FlakyRedis(2);
    const said: unknown[] = [];
    const warning = warnOfRedisRisks(
      redis as unknown as RedisClient,
      { warn: (fields: unknown) => said.push(fields) } as never,
      {
        retryMs: 1,
      },
    );
    setImmediate(() => {
      redis.status = 'ready';
      redis.emit('ready');
    });
    await warning;
    // The notes too: said once, at start, where an operator reads what to set up.
    expect(said).toEqual([
      {
        warnings: [
          expect.stringContaining('maxmemory-policy is allkeys-lru'),
          expect.stringContaining('AOF is off'),
        ],
      },
    ]);
    // Two checks failed on their first INFO; the third asked both sections.
    expect(redis.infoCalls).toBe(4);
  });

  it('gives up after its attempts, saying nothing', async () => {
    const redis = new FlakyRedis(Number.POSITIVE_INFINITY);
    redis.status = 'ready';
    const said: unknown[] = [];
    await warnOfRedisRisks(
      redis as unknown as RedisClient,
      { warn: (fields: unknown) => said.push(fields) } as never,
      {
        attempts: 3,
        retryMs: 1,
      },
    );
    expect([said, redis.infoCalls]).toEqual([[], 3]);
  });
});
