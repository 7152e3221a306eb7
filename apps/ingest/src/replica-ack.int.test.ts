import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendToBuffer, defineSpoolCommands, ReplicaAckError, streamKeys } from '@spool/shared';
import { ingestTestEnv, randomName, SPOOL_MAINS, spawnService, waitFor } from '@spool/testkit';
import { type ManagedProcess, startRedisServer } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';
import { until } from '@spool/testkit/wait';
import { Redis } from 'ioredis';
import { startTestIngest, type TestIngest } from '../test/support.js';

/**
 * REDIS_MIN_REPLICAS_ACK against a standalone Redis with one replica (redis-server processes of
 * this test's own): a 202 only once the replica holds the events, 503 while it cannot confirm.
 */
const dir = mkdtempSync(join(tmpdir(), 'spool-replica-'));
let primary: ManagedProcess;
let replica: ManagedProcess;
let primaryUrl: string;
let replicaClient: Redis;
let ingest: TestIngest;
const stream = randomName('replicated');

function post(messageId: string) {
  return ingest.app.inject({
    method: 'POST',
    url: `/v1/streams/${stream}/events`,
    payload: [{ messageId, n: 1 }],
  });
}

beforeAll(async () => {
  const primaryPort = await freePort();
  const replicaPort = await freePort();
  primary = startRedisServer('primary', primaryPort, dir);
  replica = startRedisServer('replica', replicaPort, dir, ['--replicaof', '127.0.0.1', String(primaryPort)]);
  primaryUrl = `redis://127.0.0.1:${primaryPort}`;
  replicaClient = new Redis(replicaPort, '127.0.0.1', { maxRetriesPerRequest: 1 });
  await until('the replica to sync', async () =>
    (await replicaClient.info('replication')).includes('master_link_status:up'),
  );
  ingest = await startTestIngest(
    { REDIS_MIN_REPLICAS_ACK: '1', REDIS_COMMAND_TIMEOUT: '2s', REDIS_NAMESPACE: 'spool' },
    primaryUrl,
  );
});

afterAll(async () => {
  if (replica?.pid) process.kill(replica.pid, 'SIGCONT');
  await ingest?.close();
  replicaClient?.disconnect();
  await replica?.stop();
  await primary?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('REDIS_MIN_REPLICAS_ACK above the replicas Redis has', () => {
  it('is said at start, naming the masters short of them (every append is answered 503 while /readyz says ready)', async () => {
    const started = async (wanted: string) =>
      spawnService(
        SPOOL_MAINS.ingest,
        ingestTestEnv({ REDIS_URL: primaryUrl, REDIS_MIN_REPLICAS_ACK: wanted, LOG_LEVEL: 'info' }),
      );
    const tooMany = await started('2');
    try {
      await waitFor(
        async () => (tooMany.output().includes('asks more replicas than Redis has') ? true : undefined),
        15_000,
        'the warning',
      );
      expect(tooMany.output()).toMatch(/"mastersShort":\["127\.0\.0\.1:\d+ has 1"\]/);
    } finally {
      await tooMany.stop();
    }
  });
});

describe('REDIS_MIN_REPLICAS_ACK=1', () => {
  it('answers 202 once the replica holds the events', async () => {
    const answer = await post('first');
    expect(answer.statusCode).toBe(202);
    // Confirmed by WAIT: the replica already has the line, no waiting needed.
    expect(await replicaClient.get(streamKeys(stream).buf)).toContain('"messageId":"first"');
  });

  it('answers 503 "may be stored" while the replica cannot confirm, and a retry is not stored twice', async () => {
    const pid = replica.pid as number;
    process.kill(pid, 'SIGSTOP');
    let answer: Awaited<ReturnType<typeof post>>;
    try {
      answer = await post('second');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(answer.statusCode).toBe(503);
    expect(answer.json()).toMatchObject({ code: 'SPOOL_REDIS_UNAVAILABLE' });
    expect(answer.headers['retry-after']).toBe('1');
    const metrics = await ingest.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/spool_ingest_failures_total\{operation="replicate"\} 1/);

    // The primary stored it; the client's retry (same messageId) is confirmed, and kept once.
    const retry = await post('second');
    expect(retry.statusCode).toBe(202);
    expect(retry.json()).toMatchObject({ accepted: 0, duplicates: 1, rejected: [] });
    const buffer = (await replicaClient.get(streamKeys(stream).buf)) ?? '';
    expect(buffer.match(/"messageId":"second"/g)).toHaveLength(1);
  });

  it("answers 503 for a new stream whose registration the replica cannot confirm, counted as 'replicate'", async () => {
    const failures = async (operation: string) =>
      Number(
        new RegExp(`spool_ingest_failures_total\\{operation="${operation}"\\} (\\d+)`).exec(
          (await ingest.app.inject({ method: 'GET', url: '/metrics' })).body,
        )?.[1] ?? 0,
      );
    const [replicate, registration] = [await failures('replicate'), await failures('register_stream')];
    const fresh = randomName('unregistered');
    const pid = replica.pid as number;
    process.kill(pid, 'SIGSTOP');
    let answer: Awaited<ReturnType<typeof post>>;
    try {
      answer = await ingest.app.inject({
        method: 'POST',
        url: `/v1/streams/${fresh}/events`,
        payload: { messageId: 'fresh-1' },
      });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(answer.statusCode).toBe(503);
    // Refused at the registration, before the append: the primary holds no buffer for it.
    const primary = new Redis(primaryUrl, { maxRetriesPerRequest: 1 });
    try {
      expect(await primary.exists(streamKeys(fresh).buf)).toBe(0);
    } finally {
      primary.disconnect();
    }
    expect([await failures('replicate'), await failures('register_stream')]).toEqual([
      replicate + 1,
      registration,
    ]);
  });

  it("takes no replica's word for an append sent after Redis's script cache was emptied", async () => {
    // The cache empties on a restart or a failover; ioredis then sends the script's text again on
    // its own, after the WAIT of the pair, which counted replicas for nothing: a 202 unconfirmed.
    const client = new Redis(primaryUrl, { maxRetriesPerRequest: 1 });
    defineSpoolCommands(client);
    const keys = streamKeys(randomName('flushed'));
    const ack = { replicas: 1, timeoutMs: 300 };
    const lines = (id: string) => ({
      chunk: `{"messageId":"${id}"}\n`,
      eventCount: 1,
      maxBytes: 1e9,
      dedupeWindowMs: 0,
      clientIds: { ids: [], lines: [] },
    });
    const pid = replica.pid as number;
    try {
      // The client's first append loads the script: it is then taken as loaded on the connection.
      expect(await appendToBuffer(client, keys, lines('warm'), ack)).toMatchObject({ refused: false });
      // From another connection, as an operator or a restart would; then everything so far is on
      // the replica, so a WAIT for nothing new would be answered at once.
      const other = new Redis(primaryUrl, { maxRetriesPerRequest: 1 });
      try {
        await other.script('FLUSH');
        expect(await other.wait(1, 5_000)).toBe(1);
      } finally {
        other.disconnect();
      }
      process.kill(pid, 'SIGSTOP');
      // What the primary ran, in order: the WAIT must come after the append that ran.
      const monitor = await client.monitor();
      const ran: string[] = [];
      monitor.on('monitor', (_time: string, args: string[]) => {
        const name = String(args[0]).toLowerCase();
        if (name === 'eval' || name === 'evalsha' || name === 'wait') ran.push(name);
      });
      try {
        await expect(appendToBuffer(client, keys, lines('unconfirmed'), ack)).rejects.toBeInstanceOf(
          ReplicaAckError,
        );
        // All four (a WAIT is reported when it blocks): waiting for the EVAL alone could leave its WAIT unseen.
        await until('the primary to have reported its commands', async () => ran.length >= 4);
      } finally {
        monitor.disconnect();
      }
      // EVALSHA refused (NOSCRIPT, nothing ran), then the pair again with the script's text.
      expect(ran).toEqual(['evalsha', 'wait', 'eval', 'wait']);
    } finally {
      process.kill(pid, 'SIGCONT');
      client.disconnect();
    }
  });
});
