import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineSpoolCommands, ReplicaAckError, sealGeneration, streamKeys } from '@spool/shared';
import { randomName } from '@spool/testkit';
import { type ManagedProcess, startRedisServer } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';
import { until } from '@spool/testkit/wait';
import { Redis } from 'ioredis';

/**
 * The seal's WAIT (REDIS_MIN_REPLICAS_ACK) against a standalone Redis with one replica
 * (redis-server processes of this test's own), the replica stopped (SIGSTOP: still connected, so
 * Redis counts it among the replicas, acknowledging nothing).
 *
 * Redis 7.0 (Debian 12's, this test's) takes a connection's write offset at each of its commands,
 * writing or not, so its WAIT after a retried seal covers the seal whatever the script wrote;
 * where a WAIT covers only the connection's own writes, as Redis documents it, the seal found
 * again is written once more for it (seal-7.lua, `waited`), and this test holds that too.
 */
const dir = mkdtempSync(join(tmpdir(), 'spool-replica-seal-'));
let primary: ManagedProcess;
let replica: ManagedProcess;
let primaryPort: number;
let replicaClient: Redis;
const clients: Redis[] = [];

/** A connection of its own, as a flusher's. */
async function connection(): Promise<Redis> {
  const client = new Redis(primaryPort, '127.0.0.1', { maxRetriesPerRequest: 1 });
  defineSpoolCommands(client);
  clients.push(client);
  await until('the primary to answer', async () => (await client.ping()) === 'PONG');
  return client;
}

beforeAll(async () => {
  primaryPort = await freePort();
  const replicaPort = await freePort();
  primary = startRedisServer('primary', primaryPort, dir);
  replica = startRedisServer('replica', replicaPort, dir, ['--replicaof', '127.0.0.1', String(primaryPort)]);
  replicaClient = new Redis(replicaPort, '127.0.0.1', { maxRetriesPerRequest: 1 });
  await until('the replica to sync', async () =>
    (await replicaClient.info('replication')).includes('master_link_status:up'),
  );
});

afterAll(async () => {
  if (replica?.pid) process.kill(replica.pid, 'SIGCONT');
  for (const client of clients) client.disconnect();
  replicaClient?.disconnect();
  await replica?.stop();
  await primary?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('sealing with REDIS_MIN_REPLICAS_ACK=1', () => {
  it('confirms a seal found again (a retry, from another connection) only once the replica holds it', async () => {
    const ack = { replicas: 1, timeoutMs: 300 };
    const keys = streamKeys(randomName('sealed'));
    const first = await connection();
    await first.append(keys.buf, '{"n":1}\n');
    // Another flusher's connection, whose last write the replica acknowledged.
    const other = await connection();
    await other.set(randomName('written'), '1');
    expect(await other.wait(1, 5_000)).toBe(1);

    process.kill(replica.pid as number, 'SIGSTOP');
    try {
      // Sealed by a flusher that died before its WAIT.
      expect(await sealGeneration(first, keys, 0, 'ndjson.gz')).toMatchObject({ status: 'sealed' });
      // The retry, on the other connection, finds the seal. A WAIT alone would count the
      // replicas that hold that connection's last write, the one before, and the generation
      // would be uploaded while only the master held its seal (a failover then would bring the
      // buffer back, to be stored twice).
      await expect(sealGeneration(other, keys, 0, 'ndjson.gz', ack)).rejects.toThrow(ReplicaAckError);
      // And again: the seal stays unconfirmed while the replica stands still.
      await expect(sealGeneration(first, keys, 0, 'ndjson.gz', ack)).rejects.toThrow(ReplicaAckError);
    } finally {
      process.kill(replica.pid as number, 'SIGCONT');
    }
    const again = await connection();
    expect(await sealGeneration(again, keys, 0, 'ndjson.gz', ack)).toMatchObject({
      status: 'resealed',
      length: 8,
    });
    expect(await replicaClient.exists(keys.sealed(0))).toBe(1);
  });
});
