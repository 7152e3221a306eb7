import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ManagedProcess, startRedisServer } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';
import { until } from '@spool/testkit/wait';
import { connectRedis } from './redis-connection.js';

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

describe('a connection to a Redis that answers READONLY', () => {
  it.each([
    ['that re-sends lost commands (the flusher)', {}, {}],
    ['without an offline queue (the ingest queue)', { enableOfflineQueue: false }, {}],
    ['that never re-sends (the ingest appends)', { enableOfflineQueue: false }, { neverResend: true }],
  ])(
    '%s fails the write with READONLY, never holding it, and reconnects at most once a second',
    async (_name, options, connect) => {
      const redis = connectRedis(
        { kind: 'standalone', url },
        { maxRetriesPerRequest: 1, ...options },
        connect,
      );
      let connections = 0;
      redis.on('connect', () => {
        connections += 1;
      });
      redis.on('error', () => {});
      try {
        await until('connected', async () => redis.status === 'ready');
        await expect(redis.set('k', 'v')).rejects.toThrow(/^READONLY/);
        await until('a reconnect', async () => connections === 2 && redis.status === 'ready');
        // Refused again, within the second: failed at once again, on the same connection.
        await expect(redis.set('k', 'v')).rejects.toThrow(/^READONLY/);
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect({ connections, status: redis.status }).toEqual({ connections: 2, status: 'ready' });
      } finally {
        redis.disconnect();
      }
    },
  );
});
