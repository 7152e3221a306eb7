import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createTestS3,
  flusherTestEnv,
  ingestTestEnv,
  listObjectKeys,
  randomName,
  readSpoolObject,
  type ServiceProcess,
  SPOOL_MAINS,
  spawnService,
  TcpProxy,
  testServices,
  waitUntilLanded,
} from '@spool/testkit';
import { type ManagedProcess, startRedisServer } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';
import { until } from '@spool/testkit/wait';
import { Redis } from 'ioredis';

/**
 * A failover of a standalone Redis behind one address (a DNS name, a Kubernetes Service, a cloud's
 * primary endpoint: here a proxy that sends new connections to the new primary). The connections
 * opened before it still reach the old primary, now a replica that refuses every write with
 * READONLY; the ingest and the flusher must reach the new one by themselves. An old primary that
 * dies without a word leaves them open and silent instead: they must give up on them.
 */
const services = testServices();
const dir = mkdtempSync(join(tmpdir(), 'spool-failover-'));
const NS = randomName('ns');
const prefix = `${randomName('failover')}/`;
const s3 = createTestS3();
let ports: { first: number; second: number };
const servers: ManagedProcess[] = [];
let first: Redis;
let second: Redis;
let proxy: TcpProxy;
let ingest: ServiceProcess;
let flusher: ServiceProcess;

beforeAll(async () => {
  ports = { first: await freePort(), second: await freePort() };
  servers.push(startRedisServer('first', ports.first, dir));
  servers.push(
    startRedisServer('second', ports.second, dir, ['--replicaof', '127.0.0.1', String(ports.first)]),
  );
  first = new Redis(ports.first, '127.0.0.1', { maxRetriesPerRequest: 1 });
  second = new Redis(ports.second, '127.0.0.1', { maxRetriesPerRequest: 1 });
  await until('the replica to sync', async () =>
    (await second.info('replication')).includes('master_link_status:up'),
  );
  proxy = await TcpProxy.start('127.0.0.1', ports.first);
  const redisEnv = { REDIS_URL: proxy.url('redis'), REDIS_NAMESPACE: NS, LOG_LEVEL: 'warn' };
  ingest = await spawnService(SPOOL_MAINS.ingest, ingestTestEnv(redisEnv));
  flusher = await spawnService(
    SPOOL_MAINS.flusher,
    flusherTestEnv({ ...redisEnv, S3_PREFIX: prefix, FLUSH_INTERVAL: '1s', FLUSH_RETRY_BASE: '100ms' }),
  );
}, 60_000);

afterAll(async () => {
  await flusher?.stop();
  await ingest?.stop();
  await proxy?.close();
  first?.disconnect();
  second?.disconnect();
  await Promise.all(servers.map((server) => server.stop()));
  s3.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** Posts until an answer other than 503 (as an SDK retries), within 20 s; returns that status. */
async function postUntilAnswered(stream: string, messageIds: string[]): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const answer = await fetch(`${ingest.url}/v1/streams/${stream}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(messageIds.map((messageId) => ({ messageId }))),
    });
    await answer.text();
    if (answer.status !== 503 || Date.now() > deadline) return answer.status;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('a failover behind one address', () => {
  it('reaches the new primary by itself: requests are answered 202 again and every event lands once', async () => {
    const stream = randomName('failover');
    const ids = (from: number) => Array.from({ length: 20 }, (_, i) => `m${from + i}`);
    for (let batch = 0; batch < 5; batch += 1)
      expect(await postUntilAnswered(stream, ids(batch * 20))).toBe(202);

    // A coordinated failover: the first primary waits for its replica to catch up, then swaps roles.
    await first.call('FAILOVER');
    await until('the roles to swap', async () => (await first.info('replication')).includes('role:slave'));
    proxy.retarget('127.0.0.1', ports.second);

    for (let batch = 5; batch < 10; batch += 1)
      expect(await postUntilAnswered(stream, ids(batch * 20))).toBe(202);
    await waitUntilLanded(second, [stream], { namespace: NS, timeoutMs: 30_000 });
    const landed: string[] = [];
    for (const key of await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=${stream}/`)) {
      const object = await readSpoolObject(s3, services.s3.bucket, key);
      landed.push(...object.lines.map((line) => JSON.parse(line).messageId as string));
    }
    expect(landed.sort()).toEqual(
      ids(0)
        .concat(...[1, 2, 3, 4, 5, 6, 7, 8, 9].map((b) => ids(b * 20)))
        .sort(),
    );
  });

  it("has an idle process's probe find its connection on the old primary, say not ready, and reconnect by itself", async () => {
    // Back again: the second primary hands over to the first. No request comes, so no READONLY
    // answer moves the connections: a pod that a load balancer left out would stay out for good.
    await second.call('FAILOVER');
    await until('the roles to swap back', async () =>
      (await second.info('replication')).includes('role:slave'),
    );
    proxy.retarget('127.0.0.1', ports.first);

    const probe = async (service: ServiceProcess) => {
      const answer = await fetch(`${service.url}/readyz`);
      return { status: answer.status, body: (await answer.json()) as { reason?: string } };
    };
    // A probe gives ROLE 500 ms and does not judge a Redis that answers later: a loaded runner's
    // first probe said ready (200). Probed until one answers; only a probe that finds the replica
    // reconnects (leaveReplica), and nothing else writes, so the connection is on the old primary
    // until then, and a process that never finds it still fails here.
    let found: Awaited<ReturnType<typeof probe>> | undefined;
    await until(
      'a probe to judge the old primary',
      async () => {
        found = await probe(ingest);
        return found.status !== 200;
      },
      10_000,
    );
    expect(found).toEqual({
      status: 503,
      body: {
        status: 'not ready',
        reason: 'Redis is a read-only replica: REDIS_URL must name the primary',
      },
    });
    for (const service of [ingest, flusher])
      await until('ready on the new primary', async () => (await probe(service)).status === 200);

    const stream = randomName('after-probe');
    expect(await postUntilAnswered(stream, ['p0', 'p1'])).toBe(202);
    await waitUntilLanded(first, [stream], { namespace: NS, timeoutMs: 30_000 });
  });
});

describe('an old primary that dies silently (its connections stay open and never answer; new ones reach the primary)', () => {
  it('has the flusher drop its silent connections (ready again, sweeping, landing) and the ingest add flush jobs again', async () => {
    // An ingest that adds a flush job at every 1 KiB: what the sweep would otherwise do later.
    const eager = await spawnService(
      SPOOL_MAINS.ingest,
      ingestTestEnv({
        REDIS_URL: proxy.url('redis'),
        REDIS_NAMESPACE: NS,
        FLUSH_THRESHOLD_BYTES: '1KiB',
        LOG_LEVEL: 'warn',
      }),
    );
    const enqueued = async () =>
      Number(
        /^spool_ingest_flush_jobs_enqueued_total (\d+)$/m.exec(
          await (await fetch(`${eager.url}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    try {
      const ready = async (service: ServiceProcess) => (await fetch(`${service.url}/readyz`)).status === 200;
      for (const service of [ingest, flusher, eager])
        await until('ready before the fault', () => ready(service));
      // Each process's connections open before the fault (the eager one's queue connection added a job).
      expect(await postUntilAnswered(randomName('before'), ['b0'])).toBe(202);
      const crossing = await fetch(`${eager.url}/v1/streams/${randomName('eager')}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pad: 'x'.repeat(2_048) }),
      });
      expect(crossing.status).toBe(202);
      await until('the first job added', async () => (await enqueued()) === 1);

      proxy.wedge();

      // The flusher's probe finds Redis silent, then its connection is opened again: before,
      // it waited on the silent one for good (no sweep, nothing landed until a restart).
      await until('the flusher to find Redis silent', async () => !(await ready(flusher)), 20_000);
      await until('the flusher ready again', () => ready(flusher), 30_000);
      const stream = randomName('silent');
      expect(await postUntilAnswered(stream, ['s0', 's1'])).toBe(202);
      await waitUntilLanded(first, [stream], { namespace: NS, timeoutMs: 40_000 });

      // Each buffer past 1 KiB adds a job. The first add after the fault may time out on the
      // silent connection; then the queue's connection is opened again and jobs are added.
      await until(
        'a flush job added after the fault',
        async () => {
          const answer = await fetch(`${eager.url}/v1/streams/${randomName('eager')}/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ pad: 'x'.repeat(2_048) }),
          });
          await answer.text();
          return (await enqueued()) > 1;
        },
        30_000,
      );
    } finally {
      await eager.stop();
    }
  }, 120_000); // its waits add up past Jest's 60 s on a loaded runner
});
