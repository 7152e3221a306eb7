import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connectRedis, type RedisClient } from '@spool/shared';
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
  testServices,
  waitFor,
  waitUntilLanded,
} from '@spool/testkit';
import { type ManagedProcess, S3FaultProxy, startRedisServer } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';
import { until } from '@spool/testkit/wait';

/**
 * A Redis with a maxmemory (noeviction, as Spool needs it) fills while S3 refuses every upload:
 * the ingest stops appending REDIS_MEMORY_RESERVE short of maxmemory (503 SPOOL_REDIS_FULL), so
 * Redis never refuses a write, and once S3 is back the flusher drains it by itself and appends
 * resume. At maxmemory, BullMQ's writes and the flush's would be refused and nothing would drain
 * (docs/operations.md). Every event answered 202 lands once; none refused lands.
 */
const MiB = 1024 * 1024;
const STREAMS = Array.from({ length: 6 }, () => randomName('full'));
const prefix = `${randomName('redis-full')}/`;
const services = testServices();
const s3 = createTestS3();
const dir = mkdtempSync(join(tmpdir(), 'spool-redis-full-'));
let server: ManagedProcess;
let redis: RedisClient;
let proxy: S3FaultProxy;
let ingest: ServiceProcess;
let flusher: ServiceProcess;

beforeAll(async () => {
  const port = await freePort();
  server = startRedisServer('full', port, dir, ['--maxmemory-policy', 'noeviction']);
  const url = `redis://127.0.0.1:${port}`;
  redis = connectRedis({ kind: 'standalone', url }, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  await until('Redis is up', async () => (await redis.ping().catch(() => '')) === 'PONG');
  // 24 MiB above what an empty Redis uses: less than the streams may hold (6 × 8 MiB).
  const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
  await redis.config('SET', 'maxmemory', String(used + 24 * MiB));
  proxy = await S3FaultProxy.start(services.s3.endpoint);
  proxy.set('error500');
  ingest = await spawnService(
    SPOOL_MAINS.ingest,
    ingestTestEnv({
      REDIS_URL: url,
      FLUSH_THRESHOLD_BYTES: '2MiB',
      MAX_BUFFER_BYTES: '8MiB',
      REDIS_MEMORY_RESERVE: '4MiB',
      LOG_LEVEL: 'warn',
    }),
  );
  flusher = await spawnService(
    SPOOL_MAINS.flusher,
    flusherTestEnv({
      REDIS_URL: url,
      S3_ENDPOINT: `http://127.0.0.1:${proxy.port}`,
      S3_PREFIX: prefix,
      FLUSH_INTERVAL: '1s',
      FLUSH_RETRY_BASE: '200ms',
      FLUSH_RETRY_MAX: '1s',
      LOG_LEVEL: 'warn',
    }),
  );
});
afterAll(async () => {
  await Promise.all([ingest?.stop(), flusher?.stop()]);
  await proxy?.close();
  redis?.disconnect();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
  s3.destroy();
});

let sent = 0;
/** Posts 100 events (each about 300 bytes, each its own messageId) to `stream`. */
async function post(stream: string): Promise<{ status: number; code?: string; ids: string[] }> {
  const ids = Array.from({ length: 100 }, () => `${stream}-${sent++}`);
  const events = ids.map((messageId) => ({ messageId, event: 'Filled', pad: 'x'.repeat(240) }));
  const answer = await fetch(`${ingest.url}/v1/streams/${stream}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });
  const body = (await answer.json()) as { code?: string };
  return { status: answer.status, code: body.code, ids };
}

const oomErrors = async () =>
  Number(/errorstat_OOM:count=(\d+)/.exec(await redis.info('errorstats'))?.[1] ?? 0);

describe('Redis with a maxmemory, S3 away', () => {
  it('stops appends short of maxmemory; the flusher drains once S3 is back; each accepted event lands once', async () => {
    const accepted = new Set<string>();
    const refused = new Set<string>();
    const answers = new Map<string, number>();
    const round = async () => {
      const results = await Promise.all(STREAMS.map(post));
      for (const { status, code, ids } of results) {
        const key = `${status} ${code ?? ''}`.trim();
        answers.set(key, (answers.get(key) ?? 0) + 1);
        for (const id of ids) (status === 202 ? accepted : refused).add(id);
      }
      return results;
    };
    // Until Redis is full: every stream refused for Redis's memory, not its own maximum.
    await waitFor(
      async () => ((await round()).every(({ code }) => code === 'SPOOL_REDIS_FULL') ? true : undefined),
      60_000,
      'every stream refused with SPOOL_REDIS_FULL',
    );
    expect([...answers.keys()].sort()).toEqual(['202', '503 SPOOL_REDIS_FULL']);
    expect(await oomErrors()).toBe(0);
    const memory = await redis.info('memory');
    const used = Number(/used_memory:(\d+)/.exec(memory)?.[1]);
    const max = Number(/\nmaxmemory:(\d+)/.exec(memory)?.[1]);
    expect(used).toBeLessThan(max);

    // S3 is back: the flusher uploads and releases, and appends are taken again.
    proxy.set('none');
    await waitFor(
      async () => ((await round()).every(({ status }) => status === 202) ? true : undefined),
      60_000,
      'appends taken again',
    );
    expect(await oomErrors()).toBe(0);

    await waitUntilLanded(redis, STREAMS, { timeoutMs: 60_000 });
    const copies = new Map<string, number>();
    for (const stream of STREAMS) {
      for (const key of await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=${stream}/`)) {
        for (const line of (await readSpoolObject(s3, services.s3.bucket, key)).lines) {
          const { messageId } = JSON.parse(line) as { messageId: string };
          copies.set(messageId, (copies.get(messageId) ?? 0) + 1);
        }
      }
    }
    expect(refused.size).toBeGreaterThan(0);
    expect([...accepted].filter((id) => copies.get(id) !== 1)).toEqual([]);
    expect([...refused].filter((id) => copies.has(id))).toEqual([]);
    expect(copies.size).toBe(accepted.size);
  }, 200_000);
});
