import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { testServices } from '@spool/testkit';
import { type ManagedProcess, startRedisServer } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';
import { until } from '@spool/testkit/wait';
import type { RedisOptions } from 'ioredis';
import { type ConnectOptions, connectRedis, redisNotReady } from './redis-connection.js';
import { redisIsReplica } from './redis-role.js';

/** A Redis that stays a replica (of a primary that does not exist): every write is refused READONLY. */
const dir = mkdtempSync(join(tmpdir(), 'spool-readonly-'));
let replica: ManagedProcess;
let url: string;

beforeAll(async () => {
  const port = await freePort();
  replica = startRedisServer('replica', port, dir, ['--replicaof', '127.0.0.1', '1']);
  url = `redis://127.0.0.1:${port}`;
});
afterAll(async () => {
  await replica.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A connection to the replica, ready, and how many times it has connected. */
async function countedConnection(options: RedisOptions = {}, connect: ConnectOptions = {}) {
  const redis = connectRedis({ kind: 'standalone', url }, { maxRetriesPerRequest: 1, ...options }, connect);
  let connections = 0;
  redis.on('connect', () => {
    connections += 1;
  });
  redis.on('error', () => {});
  await until('connected', async () => redis.status === 'ready');
  return { redis, connections: () => connections };
}

/**
 * The first connection and at most one reconnect for each second begun since `firstAt`: two
 * refusals within the second make 2 connections, not 3. (On a loaded runner the reconnect itself
 * may take the second; the second refusal may then reconnect too, and still be within the rule.)
 */
function expectAtMostOnceASecond(connections: number, firstAt: number): void {
  expect(connections).toBeGreaterThanOrEqual(2);
  expect(connections).toBeLessThanOrEqual(1 + Math.ceil((Date.now() - firstAt) / 1000));
}

describe('a connection to a Redis that answers READONLY', () => {
  it.each([
    ['that re-sends lost commands (the flusher)', {}, {}],
    ['without an offline queue (the ingest queue)', { enableOfflineQueue: false }, {}],
    ['that never re-sends (the ingest appends)', { enableOfflineQueue: false }, { neverResend: true }],
  ])(
    '%s fails the write with READONLY, never holding it, and reconnects at most once a second',
    async (_name, options, connect) => {
      const { redis, connections } = await countedConnection(options, connect);
      try {
        const firstAt = Date.now();
        await expect(redis.set('k', 'v')).rejects.toThrow(/^READONLY/);
        await until('a reconnect', async () => connections() === 2 && redis.status === 'ready');
        // Refused again, within the second: failed at once again, on the same connection.
        await expect(redis.set('k', 'v')).rejects.toThrow(/^READONLY/);
        await new Promise((resolve) => setTimeout(resolve, 300));
        expectAtMostOnceASecond(connections(), firstAt);
        expect(redis.status).toBe('ready');
      } finally {
        redis.disconnect();
      }
    },
  );
});

describe('a connection whose script met READONLY on Redis 6.2', () => {
  // Redis 6.2 wraps a refusal inside a script (reply-code.ts), and the queue's and the worker's
  // connections write only in scripts. The replica answers the wrapped text itself, as 6.2 would.
  const WRAPPED_BY_62 =
    "ERR Error running script (call to f_1028a5dba704e1d8a01fd96efeba25bb78f62df2): @user_script:4: @user_script: 4: -READONLY You can't write against a read only replica.";

  it('reconnects too', async () => {
    const { redis, connections } = await countedConnection();
    try {
      await expect(redis.eval('return redis.error_reply(ARGV[1])', 0, WRAPPED_BY_62)).rejects.toThrow(
        /-READONLY/,
      );
      await until('a reconnect', async () => connections() === 2 && redis.status === 'ready');
    } finally {
      redis.disconnect();
    }
  });
});

describe('/readyz of a connection that met READONLY', () => {
  it('is not ready from the refusal until it has reconnected', async () => {
    // A review's clean-clone run: /readyz said ready while the refused connection was closing,
    // and the next request failed "Stream isn't writeable".
    const { redis, connections } = await countedConnection(
      { enableOfflineQueue: false },
      { neverResend: true },
    );
    try {
      await expect(redis.set('k', 'v')).rejects.toThrow(/^READONLY/);
      expect(redisNotReady(redis)).toMatch(/^the Redis connection is (closing|reconnecting|connecting)$/);
      await until('a reconnect', async () => connections() === 2 && redis.status === 'ready');
      expect(redisNotReady(redis)).toBeUndefined();
    } finally {
      redis.disconnect();
    }
  });
});

describe('redisIsReplica (what /readyz asks of one Redis server)', () => {
  it('says a replica cannot take writes, and reconnects through the address at most once a second', async () => {
    const { redis, connections } = await countedConnection();
    try {
      const firstAt = Date.now();
      expect(await redisIsReplica(redis, 1_000)).toBe(
        'Redis is a read-only replica: REDIS_URL must name the primary',
      );
      await until('a reconnect', async () => connections() === 2 && redis.status === 'ready');
      // Asked again within the second: said again, the connection kept.
      expect(await redisIsReplica(redis, 1_000)).toMatch(/replica/);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expectAtMostOnceASecond(connections(), firstAt);
      expect(redis.status).toBe('ready');
    } finally {
      redis.disconnect();
    }
  });

  it('says nothing of a primary, nor of a server that refuses ROLE (a managed Redis may)', async () => {
    const primary = connectRedis({ kind: 'standalone', url: testServices().redisUrl });
    const replicaAdmin = connectRedis({ kind: 'standalone', url });
    const user = `no-role-${process.pid}`;
    await replicaAdmin.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '+@all', '-role');
    const noRole = connectRedis({ kind: 'standalone', url: url.replace('//', `//${user}:pw@`) });
    try {
      expect(await redisIsReplica(primary, 1_000)).toBeUndefined();
      await expect(noRole.call('ROLE')).rejects.toThrow(/NOPERM/);
      expect(await redisIsReplica(noRole, 1_000)).toBeUndefined();
    } finally {
      primary.disconnect();
      noRole.disconnect();
      await replicaAdmin.call('ACL', 'DELUSER', user);
      replicaAdmin.disconnect();
    }
  });
});
