import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Analytics } from '@segment/analytics-node';
import { streamKeys } from '@spool/shared';
import {
  createTestRedis,
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

/**
 * Exactly once end to end with the real Node SDKs, unchanged: when Spool stored a batch but its
 * answer never reached the SDK (a connection cut between the client and the ingest, or between the
 * ingest and Redis, which Spool answers 503 "may be stored"), or Redis was away for a while, the
 * SDK sends the same messageIds again and each message lands once. Each SDK writes a stream of its
 * own (its own key), so the stream's `duplicates` count shows the retry reached Spool.
 */
const services = testServices();
const NS = randomName('ns');
const prefix = `${randomName('retries')}/`;
const SEGMENT = { key: `seg-key-${randomName('k')}`, stream: randomName('seg-retry') };
const RUDDER = { key: `rs-key-${randomName('k')}`, stream: randomName('rs-retry') };
const redis = createTestRedis();
const s3 = createTestS3();
/** Between the SDKs and the ingest. */
let clientSide: TcpProxy;
/** Between the ingest and Redis. */
let redisSide: TcpProxy;
let ingest: ServiceProcess;
let flusher: ServiceProcess;

beforeAll(async () => {
  const target = new URL(services.redisUrl);
  redisSide = await TcpProxy.start(target.hostname, Number(target.port));
  ingest = await spawnService(
    SPOOL_MAINS.ingest,
    ingestTestEnv({
      REDIS_URL: redisSide.url('redis'),
      REDIS_NAMESPACE: NS,
      WRITE_KEYS: `${SEGMENT.key}:${SEGMENT.stream};${RUDDER.key}:${RUDDER.stream}`,
      LOG_LEVEL: 'warn',
    }),
  );
  const ingestUrl = new URL(ingest.url);
  clientSide = await TcpProxy.start(ingestUrl.hostname, Number(ingestUrl.port));
  flusher = await spawnService(
    SPOOL_MAINS.flusher,
    flusherTestEnv({ REDIS_NAMESPACE: NS, S3_PREFIX: prefix, FLUSH_INTERVAL: '1s', LOG_LEVEL: 'warn' }),
  );
});
afterAll(async () => {
  await Promise.all([ingest?.stop(), flusher?.stop()]);
  await Promise.all([clientSide?.close(), redisSide?.close()]);
  await redis.quit();
  s3.destroy();
});

/** Track calls of one user a test makes, each with its own messageId (the SDK's). */
const EVENTS = 5;

/** The landed messages of `userId` in `stream`, by messageId: how many copies of each. */
async function copiesOf(stream: string, userId: string): Promise<Map<string, number>> {
  await waitUntilLanded(redis, [stream], { namespace: NS, timeoutMs: 30_000 });
  const copies = new Map<string, number>();
  for (const key of await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=${stream}/`)) {
    for (const line of (await readSpoolObject(s3, services.s3.bucket, key)).lines) {
      const message = JSON.parse(line) as { userId?: string; messageId: string };
      if (message.userId === userId) copies.set(message.messageId, (copies.get(message.messageId) ?? 0) + 1);
    }
  }
  return copies;
}

/** Each of the EVENTS messages of `userId` landed in `stream`, once. */
async function expectEachLandedOnce(stream: string, userId: string): Promise<void> {
  const copies = await copiesOf(stream, userId);
  expect(copies.size).toBe(EVENTS);
  expect([...copies.values()].every((count) => count === 1)).toBe(true);
}

const duplicatesOf = async (stream: string) =>
  Number((await redis.hget(streamKeys(stream, NS).stats, 'duplicates')) ?? 0);

describe('@segment/analytics-node', () => {
  const segment = () =>
    new Analytics({
      writeKey: SEGMENT.key,
      host: clientSide.url('http'),
      flushAt: EVENTS,
      flushInterval: 100,
      maxRetries: 5,
    });
  /** Sends EVENTS track calls; `onStatus` hears each answer's status as it comes. */
  const send = async (userId: string, onStatus: (status: number) => void = () => {}) => {
    const analytics = segment();
    const statuses: number[] = [];
    const errors: unknown[] = [];
    analytics.on('http_response', (response) => {
      statuses.push(response.status);
      onStatus(response.status);
    });
    analytics.on('error', (error) => errors.push(error));
    for (let n = 0; n < EVENTS; n++) analytics.track({ userId, event: 'Retried', properties: { n } });
    await analytics.closeAndFlush({ timeout: 30_000 });
    return { statuses, errors };
  };

  it('sends a batch again when the answer to it is lost; each message lands once', async () => {
    const userId = randomName('seg-lost-answer');
    const before = await duplicatesOf(SEGMENT.stream);
    const lost = clientSide.lostReplies;
    clientSide.loseReplyTo(userId);
    const { statuses, errors } = await send(userId);
    expect(clientSide.lostReplies).toBe(lost + 1);
    // The first answer never came: the SDK heard only the retry's, and counts the batch delivered.
    expect(statuses).toEqual([200]);
    expect(errors).toEqual([]);
    expect(await duplicatesOf(SEGMENT.stream)).toBe(before + EVENTS);
    await expectEachLandedOnce(SEGMENT.stream, userId);
  });

  it("sends a batch again after a 503 'may be stored' (Redis's answer lost); each message lands once", async () => {
    const userId = randomName('seg-lost-redis');
    const before = await duplicatesOf(SEGMENT.stream);
    const lost = redisSide.lostReplies;
    redisSide.loseReplyTo(userId);
    const { statuses, errors } = await send(userId);
    expect(redisSide.lostReplies).toBe(lost + 1);
    expect(statuses).toEqual([503, 200]);
    expect(errors).toEqual([]);
    // The append ran before its reply was lost: the retry's copies were left out.
    expect(await duplicatesOf(SEGMENT.stream)).toBe(before + EVENTS);
    await expectEachLandedOnce(SEGMENT.stream, userId);
  });

  it('keeps sending while Redis is away, and lands each message once when it is back', async () => {
    const userId = randomName('seg-redis-away');
    redisSide.cut();
    // Back once the SDK has been answered 503: it backs off, then sends again.
    const { statuses, errors } = await send(userId, (status) => {
      if (status === 503) redisSide.restore();
    });
    expect(statuses.length).toBeGreaterThan(1);
    expect(statuses.slice(0, -1).every((status) => status === 503)).toBe(true);
    expect(statuses.at(-1)).toBe(200);
    expect(errors).toEqual([]);
    await expectEachLandedOnce(SEGMENT.stream, userId);
  });
});

describe('@rudderstack/rudder-sdk-node', () => {
  const send = async (userId: string) => {
    const errors: unknown[] = [];
    const client = new RudderAnalytics(RUDDER.key, {
      dataPlaneUrl: clientSide.url('http'),
      flushAt: EVENTS,
      flushInterval: 100,
      retryCount: 5,
      // Its retries are logged at its error level, as the failures it then overcame.
      logLevel: 'none',
      errorHandler: (error: unknown) => errors.push(error),
    });
    for (let n = 0; n < EVENTS; n++) client.track({ userId, event: 'Retried', properties: { n } });
    await client.flush();
    return errors;
  };

  // It sends its first message alone, then the rest: `duplicates` grows by the batch whose answer
  // was lost. Its bodies are gzip: the request is found by its route, not by the user in it.
  it('sends a batch again when the answer to it is lost; each message lands once', async () => {
    const userId = randomName('rs-lost-answer');
    const before = await duplicatesOf(RUDDER.stream);
    const lost = clientSide.lostReplies;
    clientSide.loseReplyTo('POST /v1/batch');
    expect(await send(userId)).toEqual([]);
    expect(clientSide.lostReplies).toBe(lost + 1);
    expect(await duplicatesOf(RUDDER.stream)).toBeGreaterThan(before);
    await expectEachLandedOnce(RUDDER.stream, userId);
  });

  it("sends a batch again after a 503 'may be stored' (Redis's answer lost); each message lands once", async () => {
    const userId = randomName('rs-lost-redis');
    const before = await duplicatesOf(RUDDER.stream);
    const lost = redisSide.lostReplies;
    // The ingest writes the stored lines to Redis as text.
    redisSide.loseReplyTo(userId);
    expect(await send(userId)).toEqual([]);
    expect(redisSide.lostReplies).toBe(lost + 1);
    expect(await duplicatesOf(RUDDER.stream)).toBeGreaterThan(before);
    await expectEachLandedOnce(RUDDER.stream, userId);
  });
});
