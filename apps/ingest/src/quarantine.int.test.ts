import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineSpoolCommands, purgeStream, streamKeys } from '@spool/shared';
import { createTestRedis, randomName } from '@spool/testkit';
import { startTestIngest, type TestIngest } from '../test/support.js';

/** Rejected events kept for the quarantine (what the sweep writes under _quarantine/), bounded. */
const redis = createTestRedis();
defineSpoolCommands(redis);
let ingest: TestIngest;
/** The Segment-compatible API's stream (an open service writes there). */
const TRACKING_STREAM = randomName('track');

beforeAll(async () => {
  ingest = await startTestIngest({ QUARANTINE_MAX_EVENTS: '50', DEFAULT_STREAM: TRACKING_STREAM });
});
afterAll(async () => {
  await ingest.close();
  await redis.quit();
});

function post(stream: string, payload: string) {
  return ingest.app.inject({
    method: 'POST',
    url: `/v1/streams/${stream}/events`,
    headers: { 'content-type': 'application/x-ndjson' },
    payload,
  });
}

interface Entry {
  receivedAt: string;
  requestId: string;
  index: number;
  code: string;
  message: string;
  text: string;
}

async function kept(stream: string): Promise<Entry[]> {
  return (await redis.lrange(streamKeys(stream).quarantine, 0, -1)).map(
    (entry) => JSON.parse(entry) as Entry,
  );
}

describe('the quarantine', () => {
  it('keeps each rejected event with its reason, request id, time and text (cut to 2,048 characters)', async () => {
    const stream = randomName();
    const long = `"${'x'.repeat(5_000)}"`;
    const answer = await post(stream, `{"ok":1}\n{"broken":\n${long}\n`);
    expect(answer.statusCode).toBe(202);
    const entries = await kept(stream);
    expect(entries).toEqual([
      {
        receivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        requestId: answer.headers['x-request-id'],
        index: 1,
        code: 'SPOOL_INVALID_JSON',
        message: expect.stringContaining('line is not valid JSON'),
        text: '{"broken":',
        truncated: false,
      },
      expect.objectContaining({
        index: 2,
        code: 'SPOOL_INVALID_EVENT',
        text: long.slice(0, 2_048),
        truncated: true,
      }),
    ]);
  });

  it('stores lines and quarantine entries with U+2028, U+2029 and U+0085 escaped: one line each, for any reader', async () => {
    const stream = randomName();
    const answer = await post(stream, '{"title":"a\u2028b\u0085"}\n{"broken":"c\u2029d"\n');
    expect(answer.statusCode).toBe(202);
    const [stored] = (await redis.getBuffer(streamKeys(stream).buf))?.toString().split('\n') ?? [];
    const [entry] = await redis.lrange(streamKeys(stream).quarantine, 0, -1);
    for (const line of [stored, entry]) expect(line).not.toMatch(/[\u0085\u2028\u2029]/);
    expect(JSON.parse(stored as string)).toMatchObject({ title: 'a\u2028b\u0085' });
    expect(JSON.parse(entry as string)).toMatchObject({ text: '{"broken":"c\u2029d"' });
  });

  it('holds the newest QUARANTINE_MAX_EVENTS under a flood, counting what it let go', async () => {
    const stream = randomName();
    expect((await post(stream, '{"first":1}\n')).statusCode).toBe(202);
    // 10 requests of 100 bad lines each (and one good): 1,000 rejected, 50 kept.
    for (let request = 0; request < 10; request += 1) {
      const bad = Array.from({ length: 100 }, (_, n) => `{"r":${request},"n":${n}`);
      expect((await post(stream, `${bad.join('\n')}\n{"good":${request}}\n`)).statusCode).toBe(202);
    }
    const entries = await kept(stream);
    expect(entries).toHaveLength(50);
    expect(entries.at(-1)?.text).toBe('{"r":9,"n":99');
    expect(await redis.hmget(streamKeys(stream).stats, 'rejected', 'quarantineDropped')).toEqual([
      '1000',
      '950',
    ]);
  });

  it('lets the oldest go at the first event past QUARANTINE_MAX_EVENTS, not one later', async () => {
    const stream = randomName();
    const bad = (from: number, count: number) =>
      Array.from({ length: count }, (_, n) => `{"n":${from + n}`).join('\n');
    expect((await post(stream, `${bad(0, 50)}\n{"good":1}\n`)).statusCode).toBe(202);
    expect(await kept(stream)).toHaveLength(50);
    expect(await redis.hget(streamKeys(stream).stats, 'quarantineDropped')).toBeNull();
    expect((await post(stream, `${bad(50, 1)}\n{"good":2}\n`)).statusCode).toBe(202);
    const entries = await kept(stream);
    expect(entries.map((entry) => entry.text)).toEqual(Array.from({ length: 50 }, (_, n) => `{"n":${n + 1}`));
    expect(await redis.hmget(streamKeys(stream).stats, 'rejected', 'quarantineDropped')).toEqual(['51', '1']);
  });

  it('keeps no write key and no client address of a refused Segment message', async () => {
    const track = (message: object) =>
      ingest.app.inject({
        method: 'POST',
        url: '/v1/track',
        headers: { 'content-type': 'application/json' },
        payload: message,
      });
    expect((await track({ userId: 'u1', event: 'ok' })).statusCode).toBe(200);
    // No userId and no anonymousId: refused.
    const refused = await track({
      writeKey: 'secret-write-key-1',
      event: 'x',
      context: { ip: '203.0.113.77', locale: 'en' },
    });
    expect(refused.statusCode).toBe(400);
    const [entry] = await kept(TRACKING_STREAM);
    expect(JSON.parse(entry?.text ?? '{}')).toEqual({ event: 'x', context: { locale: 'en' } });
    expect(JSON.stringify(await kept(TRACKING_STREAM))).not.toMatch(/secret-write-key-1|203\.0\.113\.77/);
  });

  it('keeps the refused events of a stream the sweep forgot, idle for an hour after its flushes', async () => {
    const stream = randomName('quiet');
    const keys = streamKeys(stream);
    expect((await post(stream, '{"n":1}\n')).statusCode).toBe(202);
    // What its flush and the sweep's forget leave: a generation number, and no counters.
    await redis.del(keys.buf);
    await redis.set(keys.gen, '1');
    expect(await purgeStream(redis, keys)).toBe(true);
    expect(await redis.exists(keys.stats)).toBe(0);

    const answer = await post(stream, '{"bad":\n');
    expect(answer.statusCode).toBe(400);
    const entries = await kept(stream);
    expect(entries).toEqual([
      expect.objectContaining({ code: 'SPOOL_INVALID_JSON', requestId: answer.headers['x-request-id'] }),
    ]);
    expect(await redis.hget(keys.stats, 'rejected')).toBe('1');
  });

  it('creates no key for a stream that never stored an event', async () => {
    const stream = randomName();
    for (let request = 0; request < 5; request += 1)
      expect((await post(stream, '{"bad":\n')).statusCode).toBe(400);
    expect(await redis.exists(streamKeys(stream).quarantine, streamKeys(stream).stats)).toBe(0);
  });
});
