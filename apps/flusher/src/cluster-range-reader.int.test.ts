import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseClusterNodes, streamKeys } from '@spool/shared';
import { LocalRedisCluster } from '@spool/testkit/local-stack';
import { Cluster } from 'ioredis';
import { ClusterRangeReader } from './cluster-range-reader.js';

/**
 * The flusher's reader on a cluster of 3 masters (no replicas: this is about routing), reading a
 * sealed key while its slot moves to another master: before, during (ASK) and after (MOVED).
 */
const dir = mkdtempSync(join(tmpdir(), 'spool-cluster-reader-'));
let cluster: LocalRedisCluster;
let client: Cluster;
const key = streamKeys('reader-moves').sealed(1);
const data = randomBytes(3 * 1024 * 1024);

beforeAll(async () => {
  cluster = await LocalRedisCluster.start({ dir, masters: 3, replicasPerMaster: 0, fsync: 'off' });
  const { nodes } = parseClusterNodes(cluster.seeds);
  client = new Cluster(nodes.map((node) => ({ ...node })));
  await client.set(key, data);
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const MiB = 1024 * 1024;

async function readPart(reader: ClusterRangeReader, part: number): Promise<Buffer> {
  const target = Buffer.alloc(MiB);
  return Buffer.from(await reader.getrange(key, part * MiB, (part + 1) * MiB - 1, target));
}

describe('ClusterRangeReader', () => {
  it('reads from the slot owner, then follows ASK and MOVED as the slot moves', async () => {
    const reader = new ClusterRangeReader(client);
    try {
      const owner = await cluster.masterOf(key);
      const other = (await cluster.state()).find((node) => node.role === 'master' && node.port !== owner);
      if (!other) throw new Error('no other master');

      expect((await readPart(reader, 0)).equals(data.subarray(0, MiB))).toBe(true);

      // Mid-migration: the key is on the target already, the slot still the owner's: ASK.
      const move = await cluster.beginSlotMigration(
        Number(await cluster.call(owner, 'CLUSTER', 'KEYSLOT', key)),
        other.port,
      );
      expect(await cluster.migrateKeys(move)).toBe(1);
      expect((await readPart(reader, 1)).equals(data.subarray(MiB, 2 * MiB))).toBe(true);

      // Handed over: the old owner answers MOVED, and the reader goes to the new one.
      await cluster.finishSlotMigration(move);
      expect((await readPart(reader, 2)).equals(data.subarray(2 * MiB))).toBe(true);
      expect(await cluster.masterOf(key)).toBe(other.port);
    } finally {
      reader.close();
    }
  });

  it('fails clearly on a key of a slot nobody serves', async () => {
    const reader = new ClusterRangeReader(client);
    const slots = client.slots;
    try {
      // As if the map were empty (a cluster that lost every master of a slot).
      client.slots = [];
      await expect(reader.getrange(key, 0, 9, Buffer.alloc(10))).rejects.toThrow(
        /no cluster node serves the slot/,
      );
    } finally {
      client.slots = slots;
      reader.close();
    }
  });
});
