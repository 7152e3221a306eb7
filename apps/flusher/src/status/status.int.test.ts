import { afterAll, describe, expect, it } from '@jest/globals';
import {
  addFlushJob,
  connectRedis,
  FLUSH_QUEUE,
  type FlushJobData,
  lastFlushErrorKey,
  legacyLastFlushErrorKey,
  legacyRegistryKeys,
  loadConfig,
  queuePrefix,
  recordRejected,
  sealGeneration,
  streamKeys,
  streamRegistryKey,
} from '@spool/shared';
import {
  createTestRedis,
  flusherTestEnv,
  randomName,
  SPOOL_MAINS,
  spawnService,
  TcpProxy,
  testServices,
  waitFor,
} from '@spool/testkit';
import { freePort } from '@spool/testkit/ports';
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { z } from 'zod';
import { fillBuffer, startTestFlusher, type TestFlusher } from '../../test/support.js';
import { adminGuard } from './admin-guard.js';
import { readLastFlushError, recordFlushError } from './flush-errors.js';
import { queueBoard } from './queue-board.js';
import { statusReader } from './status.js';
import { statusRoutes } from './status-routes.js';
import { NEARLY_FULL_SHARE, streamStatusPages } from './stream-status.js';

const redis = createTestRedis();
const flushers: TestFlusher[] = [];

afterAll(async () => {
  await Promise.all(flushers.map((flusher) => flusher.close()));
  await redis.quit();
});

async function flusher(env: Record<string, string> = {}): Promise<TestFlusher & { namespace: string }> {
  const namespace = randomName('ns');
  const started = await startTestFlusher({ REDIS_NAMESPACE: namespace, ...env });
  flushers.push(started);
  return Object.assign(started, { namespace });
}

const count = z.number().int().nonnegative();
const rate = z.number().nonnegative().nullable();
const streamRow = z
  .object({
    stream: z.string(),
    bufferBytes: count,
    thresholdShare: z.number().nonnegative(),
    maxShare: z.number().nonnegative(),
    ageMs: count.nullable(),
    generation: count,
    sealedGenerations: count,
    sealedBytes: count,
    oldestSealedAgeMs: count.nullable(),
    accepted: count,
    landed: count,
    duplicates: count,
    rejected: count,
    quarantineDropped: count,
    acceptedBytes: count,
    eventsPerSecond: rate,
    bytesPerSecond: rate,
    lastObject: z.object({ key: z.string(), landedAt: z.iso.datetime() }).strict().nullable(),
    stuck: z.boolean(),
    nearlyFull: z.boolean(),
    countersLost: z.boolean(),
    state: z.enum(['ok', 'STUCK', 'NEARLY FULL', 'STUCK, NEARLY FULL']),
  })
  .strict();
/** What /status.json promises (docs/operations.md): every field, its type, nothing more. */
const statusSchema = z
  .object({
    generatedAt: z.iso.datetime(),
    settings: z
      .object({ flushThresholdBytes: count, maxBufferBytes: count, flushIntervalMs: count })
      .strict(),
    totals: z
      .object({
        streams: count,
        stuck: count,
        nearlyFull: count,
        countersLost: count,
        bufferBytes: count,
        sealedGenerations: count,
        sealedBytes: count,
        accepted: count,
        landed: count,
        duplicates: count,
        rejected: count,
        quarantineDropped: count,
        inFlight: count,
        eventsPerSecond: rate,
        bytesPerSecond: rate,
      })
      .strict(),
    streams: z.array(streamRow),
    limit: count,
    queue: z
      .object({
        waiting: count,
        active: count,
        delayed: count,
        failed: count,
        prioritized: count,
        oldestWaitingAgeMs: count.nullable(),
      })
      .strict(),
    lastFlushError: z
      .object({
        type: z.string(),
        message: z.string(),
        stream: z.string(),
        at: z.iso.datetime(),
        landedSince: z.boolean(),
      })
      .strict()
      .nullable(),
    redis: z
      .object({
        nodes: count,
        usedMemoryBytes: count,
        maxMemoryBytes: count,
        evictionPolicies: z.array(z.string()),
        aofEnabled: z.boolean(),
        warnings: z.array(z.string()),
        notes: z.array(z.string()),
      })
      .strict(),
    alerts: z.array(
      z
        .object({
          kind: z.enum(['stuck', 'nearly-full', 'counters-lost', 'flush-error', 'redis']),
          text: z.string(),
          attention: z.boolean(),
        })
        .strict(),
    ),
  })
  .strict();

async function status(target: TestFlusher, query = '', headers: Record<string, string> = {}) {
  return target.app.inject({ method: 'GET', url: `/status.json${query}`, headers });
}

describe('/status.json', () => {
  it('answers the schema: the streams buffering, the queue and Redis, with rates once sampled twice', async () => {
    const target = await flusher({ FLUSH_INTERVAL: '1h', FLUSH_THRESHOLD_BYTES: '1MiB' });
    const keys = streamKeys(randomName('web'), target.namespace);
    const ids = await fillBuffer(redis, keys, 64 * 1024);

    const first = statusSchema.parse((await status(target)).json());
    const row = first.streams.find((entry) => entry.stream === keys.stream);
    expect(row).toMatchObject({
      bufferBytes: await redis.strlen(keys.buf),
      generation: 0,
      accepted: ids.length,
      landed: 0,
      sealedGenerations: 0,
      lastObject: null,
      stuck: false,
      nearlyFull: false,
      countersLost: false,
      eventsPerSecond: null,
    });
    expect(row?.thresholdShare).toBeCloseTo((row?.bufferBytes ?? 0) / (1024 * 1024));
    expect(first.totals).toMatchObject({ streams: 1, accepted: ids.length, inFlight: ids.length });
    expect(first.settings).toEqual({
      flushThresholdBytes: 1024 * 1024,
      maxBufferBytes: 4 * 1024 * 1024,
      flushIntervalMs: 3_600_000,
    });

    // More events, and a second sample (samples are at least a second apart): a rate.
    await fillBuffer(redis, keys, 16 * 1024);
    const second = await waitFor(
      async () => {
        const answer = statusSchema.parse((await status(target)).json());
        return answer.totals.eventsPerSecond === null ? undefined : answer;
      },
      10_000,
      'a second sample',
    );
    expect(second.totals.eventsPerSecond).toBeGreaterThan(0);
    expect(second.streams[0]?.bytesPerSecond).toBeGreaterThan(0);
    expect(second.redis.nodes).toBe(1);
  });

  it('says which streams hold over 80% of MAX_BUFFER_BYTES, as SpoolBufferNearlyFull does', async () => {
    // S3 unreachable: what is sealed stays in Redis.
    const target = await flusher({
      FLUSH_INTERVAL: '1h',
      FLUSH_THRESHOLD_BYTES: '1MiB',
      S3_ENDPOINT: 'http://127.0.0.1:9',
      FLUSH_RETRY_BASE: '100ms',
    });
    const roomy = streamKeys(randomName('roomy'), target.namespace);
    const full = streamKeys(randomName('full'), target.namespace);
    await fillBuffer(redis, roomy, 3 * 1024 * 1024);
    await fillBuffer(redis, full, 3.4 * 1024 * 1024);
    // Its room held by a sealed generation S3 has not taken, its active buffer empty.
    const sealed = streamKeys(randomName('sealed'), target.namespace);
    await fillBuffer(redis, sealed, 3.4 * 1024 * 1024);
    await sealGeneration(redis, sealed, 0);
    const answer = statusSchema.parse((await status(target)).json());
    const row = (keys: typeof full) => answer.streams.find((entry) => entry.stream === keys.stream);
    // 4 MiB of MAX_BUFFER_BYTES: 3 MiB is 75 %, 3.4 MiB 85 %.
    expect(row(roomy)).toMatchObject({ nearlyFull: false, state: 'ok' });
    expect(row(full)).toMatchObject({ nearlyFull: true, state: 'NEARLY FULL' });
    expect(row(full)?.maxShare).toBeGreaterThan(NEARLY_FULL_SHARE);
    expect(row(sealed)).toMatchObject({ bufferBytes: 0, nearlyFull: true, state: 'NEARLY FULL' });
    expect(answer.totals.nearlyFull).toBe(2);
    const nearlyFull = answer.alerts.find((alert) => alert.kind === 'nearly-full');
    expect(nearlyFull).toMatchObject({
      text: expect.stringMatching(
        /^2 stream\(s\) nearly full: over 80% of MAX_BUFFER_BYTES \(4\.0 MiB\) in Redis; at 100% their writes are refused \(503\): /,
      ),
      attention: true,
    });
    expect(nearlyFull?.text.split(': ').at(-1)?.split(', ').sort()).toEqual(
      [full.stream, sealed.stream].sort(),
    );
  });

  it('puts stuck streams first, shows the last flush error, and refuses a bad limit', async () => {
    // S3 unreachable: every flush fails, and the buffer ages past twice FLUSH_INTERVAL.
    const target = await flusher({
      FLUSH_INTERVAL: '1s',
      S3_ENDPOINT: 'http://127.0.0.1:9',
      FLUSH_RETRY_BASE: '100ms',
    });
    const calm = streamKeys(randomName('calm'), target.namespace);
    const stuck = streamKeys(randomName('stuck'), target.namespace);
    await fillBuffer(redis, calm, 8 * 1024);
    await fillBuffer(redis, stuck, 1024);
    const answer = await waitFor(
      async () => {
        const parsed = statusSchema.parse((await status(target, '?limit=1')).json());
        return parsed.totals.stuck === 2 && parsed.lastFlushError ? parsed : undefined;
      },
      30_000,
      'both streams stuck and a flush error',
    );
    expect(answer.limit).toBe(1);
    expect(answer.streams).toHaveLength(1);
    expect(answer.totals.streams).toBe(2);
    expect(answer.streams[0]).toMatchObject({ stuck: true, sealedGenerations: 1, state: 'STUCK' });
    expect(answer.streams[0]?.oldestSealedAgeMs).toBeGreaterThan(0);
    expect(answer.lastFlushError?.message).not.toBe('');
    // Both named, though the answer lists one: the alerts are made from the reading, not the limit.
    const named = answer.alerts.find((alert) => alert.kind === 'stuck')?.text ?? '';
    expect(named).toMatch(/^2 stream\(s\) stuck: data older than twice FLUSH_INTERVAL \(2\.0 s\): /);
    expect(named.split(': ').at(-1)?.split(', ').sort()).toEqual([calm.stream, stuck.stream].sort());
    expect(answer.alerts).toContainEqual(expect.objectContaining({ kind: 'flush-error', attention: true }));

    for (const limit of ['0', '-1', '1001', '1.5', 'ten', '']) {
      const refused = await status(target, `?limit=${limit}`);
      expect({ limit, status: refused.statusCode }).toEqual({ limit, status: 400 });
      expect(refused.json()).toMatchObject({ error: 'bad_request' });
    }
  });
});

describe('many streams', () => {
  it('reads every stream over several registry pages, counts each once, and lists the limit holding the most data', async () => {
    const target = await flusher({ FLUSH_INTERVAL: '1h', FLUSH_THRESHOLD_BYTES: '1MiB' });
    // Registry pages of 500 (stream-status.ts), and more than twice the 1,000 a reading keeps.
    const count = 2_100;
    const sizes = new Map<string, number>();
    for (let first = 0; first < count; first += 100) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const keys = streamKeys(`many-${first + i}`, target.namespace);
          // One line each, longer the later the stream: no two buffers of one size.
          await fillBuffer(redis, keys, 1, { lineBytes: 100 + first + i });
          sizes.set(keys.stream, await redis.strlen(keys.buf));
        }),
      );
    }

    const answer = statusSchema.parse((await status(target, '?limit=1000')).json());
    expect(answer.totals).toMatchObject({
      streams: count,
      accepted: count,
      bufferBytes: [...sizes.values()].reduce((total, size) => total + size, 0),
    });
    const largestFirst = [...sizes].sort(([, a], [, b]) => b - a).map(([stream]) => stream);
    expect(answer.streams.map((row) => row.stream)).toEqual(largestFirst.slice(0, 1_000));
  });
});

describe('the last flush error', () => {
  it('says once its stream has landed an object since, so the page no longer asks for attention', async () => {
    const target = await flusher({ FLUSH_INTERVAL: '1s' });
    const stream = randomName('recovers');
    const keys = streamKeys(stream, target.namespace);
    await recordFlushError(redis, target.namespace, stream, new Error('S3 was away'));
    const failing = statusSchema.parse((await status(target)).json());
    expect(failing.lastFlushError).toMatchObject({ stream, message: 'S3 was away', landedSince: false });

    await fillBuffer(redis, keys, 1024);
    const recovered = await waitFor(
      async () => {
        const parsed = statusSchema.parse((await status(target)).json());
        return parsed.lastFlushError?.landedSince ? parsed : undefined;
      },
      30_000,
      'the stream to land after its error',
    );
    expect(recovered.lastFlushError).toMatchObject({ stream, message: 'S3 was away' });
    expect(recovered.streams.find((row) => row.stream === stream)?.lastObject).not.toBeNull();
  });

  it('shows the newer of its record and the one older flushers keep (a rolling upgrade): either may be the failing one', async () => {
    const target = await flusher({ FLUSH_INTERVAL: '1h' });
    const record = (message: string, at: string) =>
      JSON.stringify({ type: 'Error', message, stream: 'web', at });
    const shown = (message: string) =>
      waitFor(
        async () =>
          statusSchema.parse((await status(target)).json()).lastFlushError?.message === message || undefined,
        10_000,
        `the status to show the error "${message}"`,
      );
    await redis.set(lastFlushErrorKey(target.namespace), record('this version', '2026-12-05T10:00:00.000Z'));
    await redis.set(
      legacyLastFlushErrorKey(target.namespace),
      record('an older flusher', '2026-12-05T10:00:01.000Z'),
    );
    await shown('an older flusher');
    await redis.set(lastFlushErrorKey(target.namespace), record('this version', '2026-12-05T10:00:02.000Z'));
    await shown('this version');
  });

  it.each([
    ['not JSON', 'not json{'],
    ['JSON of another shape', '{"type":1}'],
    ['a record without a time', '{"type":"Error","message":"m","stream":"web","at":""}'],
  ])('is passed over, not a failed reading blamed on Redis, when the record is %s', async (_, text) => {
    const target = await flusher({ FLUSH_INTERVAL: '1h' });
    await redis.set(lastFlushErrorKey(target.namespace), text);
    const answer = await status(target);
    expect(answer.statusCode).toBe(200);
    expect(statusSchema.parse(answer.json()).lastFlushError).toBeNull();
  });
});

describe('streams older ingests registered', () => {
  it('are read beside the registry until a sweep moves them, each once (`spool status --redis` in a rolling upgrade)', async () => {
    const namespace = randomName('ns');
    const config = loadConfig(flusherTestEnv({ REDIS_NAMESPACE: namespace }), 'flusher');
    const [current, oldRegistry, oldSet, twice] = ['current', 'old-registry', 'old-set', 'twice'].map(
      randomName,
    );
    for (const stream of [current, oldRegistry, oldSet, twice]) {
      await fillBuffer(redis, streamKeys(stream as string, namespace), 100);
    }
    // Where an older ingest's append registered them.
    const legacy = legacyRegistryKeys(namespace);
    await redis.zrem(streamRegistryKey(namespace), oldRegistry as string, oldSet as string);
    await redis.zadd(legacy.registry, 1, oldRegistry as string, 1, twice as string);
    await redis.sadd(legacy.streams, oldSet as string, oldRegistry as string);
    const rows = [];
    for await (const page of streamStatusPages(redis, config)) rows.push(...page.streams);
    expect(rows.map((row) => row.stream).sort()).toEqual([current, oldRegistry, oldSet, twice].sort());
    for (const row of rows) expect(row.bufferBytes).toBeGreaterThan(0);
  });

  it("are passed over where an old key cannot be read, as the last flush error's old key is (a Cluster's slot away)", async () => {
    const namespace = randomName('ns');
    const config = loadConfig(flusherTestEnv({ REDIS_NAMESPACE: namespace }), 'flusher');
    const stream = randomName('current');
    await fillBuffer(redis, streamKeys(stream, namespace), 100);
    await recordFlushError(redis, namespace, stream, new Error('S3 was away'));
    // Keys of another type answer every read with an error, as an unserved slot does.
    const legacy = legacyRegistryKeys(namespace);
    await redis.hset(legacy.registry, 'not', 'a sorted set');
    await redis.hset(legacy.streams, 'not', 'a set');
    await redis.hset(legacyLastFlushErrorKey(namespace), 'not', 'a string');
    const rows = [];
    for await (const page of streamStatusPages(redis, config)) rows.push(...page.streams);
    expect(rows.map((row) => row.stream)).toEqual([stream]);
    expect(await readLastFlushError(redis, namespace)).toMatchObject({ stream, message: 'S3 was away' });
  });
});

describe('the quarantine', () => {
  it('counts the refused events it let go past its bound, by stream and in all', async () => {
    const target = await flusher({ FLUSH_INTERVAL: '1h', FLUSH_THRESHOLD_BYTES: '1MiB' });
    const keys = streamKeys(randomName('flooded'), target.namespace);
    await fillBuffer(redis, keys, 1024);
    // 12 refused events against a bound of 5: the 7 oldest go.
    const entry = '{"code":"SPOOL_INVALID_JSON"}';
    await recordRejected(redis, keys, { count: 12, entries: Array(12).fill(entry), stored: true }, 5);

    const answer = statusSchema.parse((await status(target)).json());
    expect(answer.streams.find((row) => row.stream === keys.stream)).toMatchObject({
      rejected: 12,
      quarantineDropped: 7,
    });
    expect(answer.totals.quarantineDropped).toBe(7);
  });
});

describe('lost counters', () => {
  it('flags a stream that landed more events than it accepted, as after a failover that lost its counters', async () => {
    const target = await flusher({ FLUSH_INTERVAL: '1h', FLUSH_THRESHOLD_BYTES: '1MiB' });
    const whole = streamKeys(randomName('whole'), target.namespace);
    const lost = streamKeys(randomName('lost'), target.namespace);
    await fillBuffer(redis, whole, 1024);
    const ids = await fillBuffer(redis, lost, 1024);
    // What a promoted replica without the stats hash ends with: the counters start again from
    // the appends after it, and the flush of a buffer accepted before it lands more.
    await redis.hset(lost.stats, 'accepted', 3, 'landed', ids.length + 3);

    const answer = statusSchema.parse((await status(target)).json());
    expect(answer.totals.countersLost).toBe(1);
    expect(answer.streams.find((row) => row.stream === lost.stream)).toMatchObject({ countersLost: true });
    expect(answer.streams.find((row) => row.stream === whole.stream)).toMatchObject({ countersLost: false });
    // In flight: what the whole stream accepted and did not land; the lost one adds nothing (and
    // takes nothing away: a sum over streams would have cancelled it out).
    const wholeIds = (await redis.hget(whole.stats, 'accepted')) ?? '0';
    expect(answer.totals.inFlight).toBe(Number(wholeIds));
    expect(answer.totals.inFlight).toBeGreaterThan(0);

    // Recorded by the sweep, it stays once accepted counts more in flight than was lost.
    await redis.hset(lost.stats, 'accepted', ids.length + 100, 'countersLost', Date.now());
    const later = statusSchema.parse((await status(target)).json());
    expect(later.streams.find((row) => row.stream === lost.stream)).toMatchObject({ countersLost: true });
    expect(later.totals.countersLost).toBe(1);
  });
});

describe('the status behind ADMIN_KEYS', () => {
  const KEY = 'admin-key-0123456789abcdef';

  it('answers 401 with a login prompt without a key or with a wrong one, and the page and data with one', async () => {
    const target = await flusher({ ADMIN_KEYS: `another-admin-key-000000,${KEY}` });
    const basic = (user: string, password = '') =>
      `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    for (const url of ['/status', '/status.json', '/queues', '/queues/api/queues']) {
      for (const authorization of [
        undefined,
        'Bearer wrong-key-0123456789',
        basic('wrong'),
        basic('oncall', 'wrong-key-0123456789'),
        // A key that only begins the password, or only ends it, is no key.
        basic('oncall', `${KEY}x`),
        basic(`oncall:${KEY}`.slice(0, -1)),
        'Bearer ',
        KEY,
      ]) {
        const answer = await target.app.inject({
          method: 'GET',
          url,
          headers: authorization === undefined ? {} : { authorization },
        });
        expect({ url, authorization, status: answer.statusCode }).toEqual({
          url,
          authorization,
          status: 401,
        });
        expect(answer.headers['www-authenticate']).toBe('Basic realm="Spool status", charset="UTF-8"');
        expect(answer.body).not.toContain(KEY);
      }
      // The key in the login prompt's user name field, or in its password field (which hides it).
      for (const authorization of [`Bearer ${KEY}`, basic(KEY), basic('oncall', KEY), basic('', KEY)]) {
        const answer = await target.app.inject({ method: 'GET', url, headers: { authorization } });
        expect({ url, status: answer.statusCode }).toEqual({ url, status: 200 });
        expect(answer.body).not.toContain(KEY);
      }
    }
  });

  it("logs a mistyped view's path with the key in its query hidden (Fastify's own 404 line held it whole)", async () => {
    const spawned = await spawnService(
      SPOOL_MAINS.flusher,
      flusherTestEnv({ REDIS_NAMESPACE: randomName('ns'), ADMIN_KEYS: KEY, LOG_LEVEL: 'info' }),
    );
    try {
      for (const path of [`/status/?key=${KEY}`, `/queue?token=${KEY}`]) {
        const answer = await fetch(`${spawned.url}${path}`);
        expect(answer.status).toBe(404);
        expect(await answer.text()).not.toContain(KEY);
      }
      await waitFor(
        async () =>
          spawned.output().includes('Route GET:/queue?token=[redacted] not found') ? true : undefined,
        10_000,
        'the second 404 logged',
      );
      expect(spawned.output()).toContain('Route GET:/status/?key=[redacted] not found');
      expect(spawned.output()).not.toContain(KEY);
    } finally {
      await spawned.stop();
    }
  });

  it('answers open views (no ADMIN_KEYS) and /metrics only to requests addressed to an IP address or localhost, probes to any', async () => {
    const target = await flusher();
    for (const url of ['/status', '/status.json', '/queues', '/queues/api/queues']) {
      for (const [host, status] of [
        ['attacker.example:3001', 403],
        ['127.0.0.1:3001', 200],
        ['localhost', 200],
      ] as const) {
        const answer = await target.app.inject({ method: 'GET', url, headers: { host } });
        expect({ url, host, status: answer.statusCode }).toEqual({ url, host, status });
      }
    }
    for (const [url, status] of [
      ['/healthz', 200],
      // Every stream's name and traffic, with no key: not to a page that rebinds a name of its own.
      ['/metrics', 403],
    ] as const) {
      const answer = await target.app.inject({ method: 'GET', url, headers: { host: 'attacker.example' } });
      expect({ url, status: answer.statusCode }).toEqual({ url, status });
    }
    const listed = await flusher({ METRICS_HOSTS: '*.example' });
    const scrape = await listed.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { host: 'attacker.example' },
    });
    expect(scrape.statusCode).toBe(200);
  });

  it('refuses to start with an admin key shorter than 16 characters, naming no key', async () => {
    await expect(flusher({ ADMIN_KEYS: 'short-key' })).rejects.toThrow(
      /ADMIN_KEYS: key 1 is shorter than 16 characters/,
    );
    await expect(flusher({ ADMIN_KEYS: 'short-key' })).rejects.not.toThrow(/short-key/);
  });
});

/**
 * A flush queue on a Redis connection through a TCP proxy (to hang or cut Redis, `before` the
 * connection opens if need be), and a Fastify app to register a view on. `close()` heals the
 * proxy first, so that a request still waiting on Redis ends and the app closes.
 */
async function behindProxy(
  maxRetriesPerRequest: number | null,
  before: (proxy: TcpProxy) => void = () => {},
) {
  const target = new URL(testServices().redisUrl);
  const proxy = await TcpProxy.start(target.hostname, Number(target.port));
  before(proxy);
  const redis = connectRedis({ kind: 'standalone', url: proxy.url('redis') }, { maxRetriesPerRequest });
  redis.on('error', () => {});
  const queue = new Queue<FlushJobData>(FLUSH_QUEUE, {
    connection: redis,
    prefix: queuePrefix(randomName('ns')),
  });
  // The proxy's cuts reach the queue as errors; the test reads them from the answers.
  queue.on('error', () => {});
  const app = Fastify();
  return {
    proxy,
    redis,
    queue,
    app,
    async close() {
      proxy.restore();
      await app.close();
      await queue.close().catch(() => {});
      redis.disconnect();
      await proxy.close();
    },
  };
}

describe('/status', () => {
  it('answers 503 saying Redis did not answer, rather than hang, when Redis hangs (a Cluster without quorum)', async () => {
    const { proxy, redis: hung, queue, app, close } = await behindProxy(null);
    await app.register(statusRoutes, {
      readStatus: statusReader({ redis: hung, queue, config: loadConfig(flusherTestEnv(), 'flusher') }),
      guard: adminGuard([], app.log),
      redisDown: () => false,
    });
    try {
      proxy.blackhole();
      const answer = await app.inject({ url: '/status.json' });
      expect(answer.statusCode).toBe(503);
      expect(answer.json()).toEqual({
        error: 'redis_unavailable',
        message: 'Redis did not answer within 5 s',
      });
    } finally {
      await close();
    }
  });

  it('answers 503 saying Redis could not be reached, not that it was slow, when Redis refuses', async () => {
    const { proxy, redis: down, queue, app, close } = await behindProxy(1, (proxy) => proxy.cut());
    await app.register(statusRoutes, {
      readStatus: statusReader({ redis: down, queue, config: loadConfig(flusherTestEnv(), 'flusher') }),
      guard: adminGuard([], app.log),
      redisDown: () => false,
    });
    try {
      const answer = await app.inject({ url: '/status.json' });
      expect(answer.statusCode).toBe(503);
      expect(answer.json()).toEqual({
        error: 'redis_unavailable',
        message: 'Redis could not be reached (the flusher log says why)',
      });
      expect(proxy.connections).toBe(0);
    } finally {
      await close();
    }
  });

  it("answers 503 saying Redis could not be reached, in a flusher whose Redis is down (its client's retries raced the wait), and so does the queue board's API", async () => {
    const closed = await freePort();
    const down = await spawnService(
      SPOOL_MAINS.flusher,
      flusherTestEnv({ REDIS_URL: `redis://127.0.0.1:${closed}` }),
    );
    try {
      // Three times: each read raced the wait and said "did not answer" about two times in three.
      for (let i = 0; i < 3; i += 1) {
        const answer = await fetch(`${down.url}/status.json`);
        expect({ status: answer.status, body: await answer.json() }).toEqual({
          status: 503,
          body: {
            error: 'redis_unavailable',
            message: 'Redis could not be reached (the flusher log says why)',
          },
        });
      }
      // The queue board's API too (it waited 5 s, then blamed a slow Redis).
      const board = await fetch(`${down.url}/queues/api/queues`);
      expect({ status: board.status, body: await board.json() }).toEqual({
        status: 503,
        body: {
          error: 'redis_unavailable',
          message: 'Redis could not be reached (the flusher log says why)',
        },
      });
    } finally {
      // Its shutdown would wait out its grace for the Redis it never reached.
      await down.stop('SIGKILL');
    }
  });

  it('answers 503 saying the streams are still being read, and how many so far, when a first reading outlasts the wait', async () => {
    // A reader whose first reading goes on (as one of 100,000 streams does, docs/operations.md).
    const app = Fastify();
    await app.register(statusRoutes, {
      readStatus: Object.assign(() => new Promise<never>(() => {}), { readingProgress: () => 41_500 }),
      guard: adminGuard([], app.log),
      redisDown: () => false,
    });
    const answer = await app.inject({ url: '/status.json' });
    expect(answer.statusCode).toBe(503);
    expect(answer.json()).toEqual({
      error: 'status_reading',
      message: 'still reading the streams (41500 so far): ask again in a few seconds',
    });
    await app.close();
  });

  it('is one page with no outside asset, its script allowed by hash alone', async () => {
    const target = await flusher();
    const page = await target.app.inject({ method: 'GET', url: '/status' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+';/);
    expect(page.body).not.toMatch(/<(link|img|iframe)|src=|https?:\/\//);
    expect(page.body).not.toContain('innerHTML');
  });
});

describe('/queues', () => {
  it('is Bull Board over the flush queue, read-only', async () => {
    const target = await flusher();
    const page = await target.app.inject({ method: 'GET', url: '/queues' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const api = await target.app.inject({ method: 'GET', url: '/queues/api/queues' });
    expect(api.statusCode).toBe(200);
    // Admin answers, as the status page's: kept by no cache, framed by no page, never sniffed.
    for (const answer of [page, api]) {
      expect(answer.headers).toMatchObject({
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-security-policy': expect.stringContaining("frame-ancestors 'none'"),
        'x-frame-options': 'DENY',
      });
    }
    const { queues } = api.json() as { queues: Array<{ name: string; readOnlyMode: boolean; type: string }> };
    expect(queues).toEqual([expect.objectContaining({ name: 'flush', readOnlyMode: true, type: 'bullmq' })]);
  });

  it('refuses every change to the queue to those who may see it: the board only reads', async () => {
    const target = await flusher();
    const connection = createTestRedis();
    const queue = new Queue(FLUSH_QUEUE, { connection, prefix: queuePrefix(target.namespace) });
    try {
      // A job the worker leaves alone for a minute: what a change by the board would move.
      const job = await queue.add('flush', { stream: 'web', gen: 0 }, { jobId: 'web@0', delay: 60_000 });
      const api = `/queues/api/queues/${FLUSH_QUEUE}`;
      const changes: Array<[string, string, object?]> = [
        ['PUT', '/queues/api/queues/pause'],
        ['PUT', '/queues/api/queues/resume'],
        ['PUT', `${api}/pause`],
        ['PUT', `${api}/empty`],
        ['PUT', `${api}/obliterate`, {}],
        ['PUT', `${api}/promote`],
        ['POST', `${api}/add`, { name: 'flush', data: {} }],
        ['PUT', `${api}/retry/failed`],
        ['PUT', `${api}/clean/delayed`],
        ['PUT', `${api}/concurrency`, { concurrency: 1 }],
        ['PUT', `${api}/${job.id}/promote`],
        ['PUT', `${api}/${job.id}/clean`],
        ['PUT', `${api}/${job.id}/retry`],
        ['PATCH', `${api}/${job.id}/update-data`, { jobData: { stream: 'web', gen: 9 } }],
        ['PATCH', `${api}/${job.id}/priority`, { priority: 1 }],
      ];
      for (const [method, url, body] of changes) {
        const answer = await target.app.inject({
          method: method as 'PUT',
          url,
          ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, payload: body }),
        });
        expect({
          method,
          url,
          refused: answer.statusCode === 405 || answer.body,
        }).toEqual({
          method,
          url,
          refused: true,
        });
      }
      expect(await queue.isPaused()).toBe(false);
      expect(await queue.getJobState('web@0')).toBe('delayed');
      expect((await queue.getJob('web@0'))?.data).toEqual({ stream: 'web', gen: 0 });
      expect(await queue.count()).toBe(1);
    } finally {
      await queue.close();
      await connection.quit();
    }
  });

  it('refuses a page of more jobs than its own settings offer (300): one request read every job of a status', async () => {
    const target = await flusher();
    for (const [query, status] of [
      ['jobsPerPage=300', 200],
      ['jobsPerPage=301', 400],
      ['jobsPerPage=1000000', 400],
      ['jobsPerPage=10&jobsPerPage=100000', 400],
    ] as const) {
      const answer = await target.app.inject({
        method: 'GET',
        url: `/queues/api/queues?activeQueue=flush&status=waiting&page=1&${query}`,
      });
      expect({ query, status: answer.statusCode }).toEqual({ query, status });
    }
  });

  it('refuses a queue name the board cannot decode once more with 400, not its own 500', async () => {
    const target = await flusher();
    for (const [query, status] of [
      ['activeQueue=flush', 200],
      ['activeQueue=%25', 400],
      ['activeQueue=100%25done', 400],
      ['activeQueue=%25E0%25A4%25A', 400],
      ['activeQueue=flush&activeQueue=%25', 400],
    ] as const) {
      const answer = await target.app.inject({ method: 'GET', url: `/queues/api/queues?${query}` });
      expect({ query, status: answer.statusCode }).toEqual({ query, status });
    }
    const schedulers = await target.app.inject({
      method: 'GET',
      url: '/queues/api/job-schedulers?queueName=%25',
    });
    expect(schedulers.statusCode).toBe(400);
    expect(schedulers.json()).toEqual({ error: 'bad_request', message: 'queueName: a broken %-escape' });
  });

  it("answers 404 for a job id no flush job has, BullMQ's own keys' names too (the board read them as jobs: 500)", async () => {
    const target = await flusher();
    const connection = createTestRedis();
    const queue = new Queue(FLUSH_QUEUE, { connection, prefix: queuePrefix(target.namespace) });
    try {
      await queue.add('flush', { stream: 'web', gen: 0 }, { jobId: 'web@0', delay: 60_000 });
      // Keys the queue has now: its event stream, id counter, meta hash, delayed set.
      const api = `/queues/api/queues/${FLUSH_QUEUE}`;
      const answers: Array<[string, number, unknown]> = [];
      for (const id of ['events', 'id', 'meta', 'delayed', 'web@1', 'web%400', 'web@0']) {
        for (const what of ['', '/logs']) {
          const answer = await target.app.inject({ method: 'GET', url: `${api}/${id}${what}` });
          answers.push([`${id}${what}`, answer.statusCode, answer.statusCode === 404 ? answer.json() : '']);
        }
      }
      const notFound = { error: { key: 'ERRORS.JOB_NOT_FOUND' } };
      expect(answers).toEqual([
        ...['events', 'id', 'meta', 'delayed'].flatMap((id) => [
          [id, 404, notFound],
          [`${id}/logs`, 404, notFound],
        ]),
        // A flush job's id with no job: the board's own answers (its logs: none).
        ['web@1', 404, notFound],
        ['web@1/logs', 200, ''],
        ['web%400', 200, ''],
        ['web%400/logs', 200, ''],
        ['web@0', 200, ''],
        ['web@0/logs', 200, ''],
      ]);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      await connection.quit();
    }
  });

  it("answers its API's requests 503 within bounded time while Redis hangs", async () => {
    const { proxy, queue, app, close } = await behindProxy(null);
    await app.register(queueBoard, { queue, guard: adminGuard([], app.log), redisDown: () => false });
    try {
      await queue.waitUntilReady();
      proxy.blackhole();
      // The API's path as written, and with a letter percent-encoded (the same route).
      for (const url of ['/queues/api/queues', '/queues/%61pi/queues']) {
        const api = await Promise.race([
          app.inject({ method: 'GET', url }),
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error(`${url}: no answer within 15 s`)), 15_000).unref(),
          ),
        ]);
        expect(api.statusCode).toBe(503);
        expect(api.json()).toEqual({
          error: 'redis_unavailable',
          message: 'Redis did not answer within 5 s',
        });
        // Still an admin answer.
        expect(api.headers['cache-control']).toBe('no-store');
      }
    } finally {
      await close();
    }
  });
});

describe('/status queue', () => {
  it('says how long the oldest waiting flush job has waited, though urgent jobs run before it', async () => {
    const { queue, app, close } = await behindProxy(1);
    await app.register(statusRoutes, {
      readStatus: statusReader({
        redis,
        queue,
        // No streams of its own to read: the queue is the question.
        config: loadConfig(flusherTestEnv({ REDIS_NAMESPACE: randomName('ns') }), 'flusher'),
      }),
      guard: adminGuard([], app.log),
      redisDown: () => false,
    });
    try {
      await addFlushJob(queue, 'quiet', 0);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      // Newer, and first in line (addFlushJob's `urgent`): the head of the queue is not the oldest.
      await addFlushJob(queue, 'hot', 0, { urgent: true });
      const answer = await app.inject({ url: '/status.json' });
      expect(answer.statusCode).toBe(200);
      const { queue: counts } = statusSchema.parse(answer.json());
      expect(counts.waiting).toBe(2);
      expect(counts.oldestWaitingAgeMs).toBeGreaterThanOrEqual(1_200);
    } finally {
      await queue.obliterate({ force: true });
      await close();
    }
  });
});
