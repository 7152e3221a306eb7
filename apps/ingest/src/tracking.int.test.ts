import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import {
  createTestRedis,
  ingestTestEnv,
  randomName,
  SPOOL_MAINS,
  sendRawHttp,
  spawnService,
} from '@spool/testkit';
import { startTestIngest, type TestIngest } from '../test/support.js';

/** The Segment-compatible tracking API, driven as the SDKs drive it (docs/sdks.md). */
const redis = createTestRedis();
afterAll(() => redis.quit());

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;

async function stored(namespace: string, stream: string): Promise<Array<Record<string, unknown>>> {
  const text = (await redis.get(streamKeys(stream, namespace).buf)) ?? '';
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

/** An ingest allowing `max` requests per 30 s window, in a namespace of its own unless named. */
function rateLimitedIngest(max: number, env: Record<string, string> = {}) {
  return startTestIngest({
    REDIS_NAMESPACE: randomName('trk'),
    RATE_LIMIT_MAX: String(max),
    RATE_LIMIT_WINDOW: '30s',
    ...env,
  });
}

function send(
  ingest: TestIngest,
  url: string,
  payload: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  return ingest.app.inject({
    method: 'POST',
    url,
    headers,
    payload: Buffer.isBuffer(payload) || typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
}

/** A write key longer than a path parameter may be (Fastify's 100 characters). */
const LONG_KEY = `long-${'k'.repeat(145)}`;

describe('the tracking API on a keyed service', () => {
  const ns = randomName('trk');
  const stream = randomName('web');
  let ingest: TestIngest;
  beforeAll(async () => {
    ingest = await startTestIngest({
      REDIS_NAMESPACE: ns,
      WRITE_KEYS: `web-key-0001:${stream},other;all-key-0002:*;b64+key/0003=:${stream};${LONG_KEY}:${stream};Zm9v//YmFy:*;/c2xhc2g=:*;dHJhaWw/:*`,
      DEFAULT_STREAM: 'everything',
      MAX_BATCH_BYTES: '64KiB',
      MAX_EVENT_BYTES: '4KiB',
    });
  });
  afterAll(() => ingest.close());

  it.each([
    ['/v1/track', 'track', { event: 'Signed Up' }],
    ['/v1/t', 'track', { event: 'Signed Up' }],
    ['/v1/identify', 'identify', { traits: { plan: 'pro' } }],
    ['/v1/i', 'identify', {}],
    ['/v1/page', 'page', { name: 'Pricing' }],
    ['/v1/p', 'page', {}],
    ['/v1/screen', 'screen', { name: 'Home' }],
    ['/v1/s', 'screen', {}],
    ['/v1/group', 'group', { groupId: 'g-1' }],
    ['/v1/g', 'group', { groupId: 'g-1' }],
    ['/v1/alias', 'alias', { previousId: 'anon-1' }],
    ['/v1/a', 'alias', { previousId: 'anon-1' }],
  ])('%s stores one %s message, its type from the route', async (url, type, fields) => {
    const messageId = randomName('m');
    const response = await send(
      ingest,
      url,
      { userId: 'u-1', messageId, type: 'wrong', ...fields },
      {
        'content-type': 'text/plain',
        authorization: basic('web-key-0001'),
      },
    );
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ success: true, accepted: 1 });
    const line = (await stored(ns, stream)).find((message) => message.messageId === messageId);
    expect(line).toMatchObject({ type, userId: 'u-1', ...fields, context: { ip: '127.0.0.1' } });
    expect(typeof line?.receivedAt).toBe('string');
  });

  it('takes a batch, merging its context into each message and keeping its sentAt, and stores no key', async () => {
    const response = await send(
      ingest,
      '/v1/batch',
      {
        writeKey: 'web-key-0001',
        sentAt: '2026-12-01T11:00:09.000Z',
        context: { library: { name: 'analytics-node' } },
        integrations: { All: false, Mixpanel: true },
        batch: [
          {
            type: 'track',
            userId: 'u',
            event: 'A',
            messageId: 'batch-a',
            timestamp: '2026-12-01T11:00:00.000Z',
          },
          { type: 'identify', anonymousId: 'anon', messageId: 'batch-b', context: { locale: 'fr' } },
        ],
      },
      { 'content-type': 'application/json' },
    );
    expect(response.statusCode).toBe(200);
    const lines = (await stored(ns, stream)).filter((message) =>
      String(message.messageId).startsWith('batch-'),
    );
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      event: 'A',
      sentAt: '2026-12-01T11:00:09.000Z',
      originalTimestamp: '2026-12-01T11:00:00.000Z',
      context: { library: { name: 'analytics-node' } },
    });
    expect(lines[1]).toMatchObject({ context: { locale: 'fr', library: { name: 'analytics-node' } } });
    for (const line of lines) expect(line.integrations).toEqual({ All: false, Mixpanel: true });
    // Corrected for the client's clock: nine seconds before it was received.
    const lag = Date.parse(lines[0]?.receivedAt as string) - Date.parse(lines[0]?.timestamp as string);
    expect(lag).toBe(9_000);
    for (const line of lines) expect(line).not.toHaveProperty('writeKey');
    // Counted as the tracking API's, apart from the native API's.
    expect((await ingest.app.inject({ url: '/metrics' })).body).toMatch(
      /spool_ingest_requests_total\{api="tracking",status="200"\} [1-9]/,
    );
  });

  it.each([
    ['/v1/import', { authorization: `Bearer web-key-0001` }, ''],
    ['/v1/b', { authorization: basic('web-key-0001') }, ''],
    ['/beacon/v1/batch', {}, '?writeKey=web-key-0001'],
    // rudder-analytics-js writes the key into its beacon's URL as it is: a base64 key's `+` is no space.
    ['/beacon/v1/batch', {}, '?writeKey=b64+key/0003='],
    ['/beacon/v1/batch', {}, '?other=1&writeKey=b64%2Bkey%2F0003%3D'],
  ])('%s%s takes a batch, the key in its usual place', async (url, headers, query) => {
    const messageId = randomName('m');
    const response = await send(
      ingest,
      `${url}${query}`,
      { batch: [{ type: 'track', userId: 'u', event: 'E', messageId }] },
      { 'content-type': 'text/plain', ...headers },
    );
    expect(response.statusCode).toBe(200);
    expect((await stored(ns, stream)).some((message) => message.messageId === messageId)).toBe(true);
  });

  it("reads JSON whatever the Content-Type, gzip included (rudder-sdk-node's form type)", async () => {
    const messageId = randomName('m');
    const body = gzipSync(JSON.stringify({ batch: [{ type: 'track', userId: 'u', event: 'Z', messageId }] }));
    const response = await send(ingest, '/v1/batch', body, {
      'content-type': 'application/x-www-form-urlencoded',
      'content-encoding': 'gzip',
      authorization: basic('web-key-0001'),
    });
    expect(response.statusCode).toBe(200);
    expect((await stored(ns, stream)).some((message) => message.messageId === messageId)).toBe(true);
  });

  it.each(['json', '', 'application/json, text/plain'])(
    'reads JSON under a Content-Type Fastify cannot parse too (%p), never 415',
    async (type) => {
      const messageId = randomName('m');
      const response = await send(
        ingest,
        '/v1/track',
        { userId: 'u', event: 'Typed', messageId },
        { 'content-type': type, authorization: basic('web-key-0001') },
      );
      expect(response.statusCode).toBe(200);
      expect((await stored(ns, stream)).some((message) => message.messageId === messageId)).toBe(true);
    },
  );

  it("sends a * key's messages, and only those, to DEFAULT_STREAM", async () => {
    const messageId = randomName('m');
    await send(
      ingest,
      '/v1/track',
      { userId: 'u', event: 'E', messageId },
      {
        'content-type': 'application/json',
        authorization: basic('all-key-0002'),
      },
    );
    expect((await stored(ns, 'everything')).map((message) => message.messageId)).toContain(messageId);
  });

  it('refuses a missing or unknown key with 401, storing nothing', async () => {
    const messageId = randomName('m');
    const attempts: Array<Record<string, string>> = [{}, { authorization: basic('nope-nope-nope') }];
    for (const headers of attempts) {
      const response = await send(
        ingest,
        '/v1/track',
        { userId: 'u', event: 'E', messageId },
        {
          'content-type': 'application/json',
          ...headers,
        },
      );
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: 'SPOOL_UNAUTHORIZED' });
    }
    const wrongInBody = await send(ingest, '/v1/batch', {
      writeKey: 'nope',
      batch: [{ type: 'track', userId: 'u', event: 'E' }],
    });
    expect(wrongInBody.statusCode).toBe(401);
    // rudder-sdk-android and rudder-sdk-ios stop sending on these words (any case), else retry for ever.
    const wrongInHeader = await send(
      ingest,
      '/v1/batch',
      { batch: [{ type: 'track', userId: 'u', event: 'E' }] },
      {
        'content-type': 'Application/json',
        authorization: basic('nope-nope-nope'),
      },
    );
    for (const wrong of [wrongInBody, wrongInHeader]) {
      expect([wrong.statusCode, wrong.json().message.toLowerCase()]).toEqual([401, 'invalid write key']);
    }
    // A key after a '#' and a '?', on the wire (inject drops what follows a '#'): the router's
    // query begins at the '#', where its only parameter is `x` (the key was taken, and the request
    // log, reading as the router, logged it whole).
    const listening = await startTestIngest({ REDIS_NAMESPACE: ns, WRITE_KEYS: `web-key-0001:${stream}` });
    try {
      await listening.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = listening.app.server.address() as AddressInfo;
      const raw = (target: string, id: string) => {
        const body = JSON.stringify({ batch: [{ type: 'track', userId: 'u', event: 'E', messageId: id }] });
        return sendRawHttp(
          `http://127.0.0.1:${port}`,
          `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      };
      const afterFragment = await raw('/v1/batch#x=1?writeKey=web-key-0001', messageId);
      await afterFragment.closed;
      expect(afterFragment.answer()).toMatch(/^HTTP\/1.1 401 /);
      expect((await stored(ns, stream)).some((message) => message.messageId === messageId)).toBe(false);
      // The same key in the query: taken (the wire form works).
      const inQuery = await raw('/v1/batch?writeKey=web-key-0001', randomName('m'));
      await inQuery.closed;
      expect(inQuery.answer()).toMatch(/^HTTP\/1.1 200 /);
    } finally {
      await listening.close();
    }
  });

  it("decides by the first key it finds, the others unread: the header's, then the body's, then the query's", async () => {
    const batch = (messageId: string) => [{ type: 'track', userId: 'u', event: 'E', messageId }];
    const inStream = async (messageId: string, where: string) =>
      (await stored(ns, where)).some((message) => message.messageId === messageId);
    // A right key in the header, a wrong one in the body and the query: stored by the header's.
    const headerFirst = randomName('m');
    const byHeader = await send(
      ingest,
      '/v1/batch?writeKey=nope-nope-nope',
      { writeKey: 'nope', batch: batch(headerFirst) },
      { 'content-type': 'application/json', authorization: basic('web-key-0001') },
    );
    expect(byHeader.statusCode).toBe(200);
    expect(await inStream(headerFirst, stream)).toBe(true);
    // A wrong key in the body refuses a request whose query holds a right one.
    const bodyFirst = randomName('m');
    const byBody = await send(ingest, '/v1/batch?writeKey=web-key-0001', {
      writeKey: 'nope',
      batch: batch(bodyFirst),
    });
    expect(byBody.statusCode).toBe(401);
    expect(await inStream(bodyFirst, stream)).toBe(false);
    // A right key in each: the body's decides the stream (a * key's: DEFAULT_STREAM).
    const bodyStream = randomName('m');
    const both = await send(ingest, '/v1/batch?writeKey=web-key-0001', {
      writeKey: 'all-key-0002',
      batch: batch(bodyStream),
    });
    expect(both.statusCode).toBe(200);
    expect([await inStream(bodyStream, 'everything'), await inStream(bodyStream, stream)]).toEqual([
      true,
      false,
    ]);
  });

  it("takes a batch sent to //v1/batch: the Go SDKs' path when their endpoint ends in a slash", async () => {
    await ingest.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = ingest.app.server.address() as AddressInfo;
    const messageId = randomName('m');
    // Over real HTTP, as net/http sends it: an injected '//v1/batch' would be read as a host.
    const response = await fetch(`http://127.0.0.1:${port}//v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic('web-key-0001') },
      body: JSON.stringify({ batch: [{ type: 'track', userId: 'u', event: 'E', messageId }] }),
    });
    expect(response.status).toBe(200);
    expect((await stored(ns, stream)).some((message) => message.messageId === messageId)).toBe(true);
    // As a proxy may pass it on: the absolute form, whose path starts with the two slashes.
    const proxied = randomName('m');
    const body = JSON.stringify({ batch: [{ type: 'track', userId: 'u', event: 'E', messageId: proxied }] });
    const head = await new Promise<string>((resolve, reject) => {
      // Written, not ended: a client that half-closes first may be closed on before its answer.
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(
          `POST http://127.0.0.1:${port}//v1/batch HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
            `Content-Type: application/json\r\nAuthorization: ${basic('web-key-0001')}\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        ),
      );
      let answer = '';
      socket.on('data', (chunk) => {
        answer += chunk;
      });
      socket.on('end', () => resolve(answer.split('\r\n')[0] as string));
      socket.on('error', reject);
    });
    expect(head).toBe('HTTP/1.1 200 OK');
    expect((await stored(ns, stream)).some((message) => message.messageId === proxied)).toBe(true);
  });

  it("refuses a batch of messages without ids in rudder-server's words, on which rudder-sdk-android drops them", async () => {
    const answer = await send(
      ingest,
      '/v1/batch',
      { batch: [{ type: 'track', event: 'E' }] },
      { 'content-type': 'application/json', authorization: basic('web-key-0001') },
    );
    expect(answer.statusCode).toBe(400);
    // Any other 400's batch it sends again every second, for ever (RudderNetworkManager).
    expect(answer.body.toLowerCase()).toContain('request neither has anonymousid nor userid');
  });

  it('answers malformed input with 400 and a reason, and stores only the good messages of a batch', async () => {
    const headers = { 'content-type': 'application/json', authorization: basic('web-key-0001') };
    const ok = '{"type":"track","userId":"u","event":"ok"}';
    const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
    const before = (await stored(ns, stream)).length;
    const cases: Array<[string, unknown, string]> = [
      ['/v1/batch', { batch: 'nope' }, 'SPOOL_INVALID_BATCH'],
      ['/v1/batch', [1, 2], 'SPOOL_INVALID_BATCH'],
      ['/v1/batch', '{"batch":[', 'SPOOL_INVALID_JSON'],
      ['/v1/track', { userId: 'u' }, 'SPOOL_INVALID_EVENT'],
      ['/v1/identify', { traits: {} }, 'SPOOL_INVALID_EVENT'],
      ['/v1/batch', { batch: [{ type: 'nope', userId: 'u' }] }, 'SPOOL_NO_VALID_EVENTS'],
      // The batch's context and integrations go into every message: they keep a message's rules.
      ['/v1/batch', `{"context":{"__proto__":{"admin":true}},"batch":[${ok}]}`, 'SPOOL_INVALID_BATCH'],
      [
        '/v1/batch',
        `{"integrations":{"constructor":{"prototype":{}}},"batch":[${ok}]}`,
        'SPOOL_INVALID_BATCH',
      ],
      ['/v1/batch', `{"context":${deep(100)},"batch":[${ok}]}`, 'SPOOL_INVALID_BATCH'],
      // Deep enough to overflow the stack of a recursive writer: once a 500.
      ['/v1/batch', `{"context":${deep(10_000)},"batch":[${ok}]}`, 'SPOOL_INVALID_BATCH'],
      // The batch's sentAt is written into every message too.
      ['/v1/batch', `{"sentAt":{"__proto__":{"admin":true}},"batch":[${ok}]}`, 'SPOOL_INVALID_BATCH'],
      ['/v1/batch', `{"sentAt":[1e400],"batch":[${ok}]}`, 'SPOOL_INVALID_BATCH'],
      ['/v1/batch', `{"sentAt":${deep(10_000)},"batch":[${ok}]}`, 'SPOOL_INVALID_BATCH'],
      // Merged into every message as an object: anything else was dropped under a 200.
      ['/v1/batch', `{"context":"web-v2","batch":[${ok}]}`, 'SPOOL_INVALID_BATCH'],
      ['/v1/batch', `{"integrations":["a"],"batch":[${ok}]}`, 'SPOOL_INVALID_BATCH'],
      // A key with a lone surrogate would change its name: refused with the batch, not per message.
      ['/v1/batch', `{"context":{"k\\ud800":1},"batch":[${ok}]}`, 'SPOOL_INVALID_BATCH'],
    ];
    for (const [url, payload, code] of cases) {
      const response = await send(ingest, url, payload, headers);
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code, message: expect.any(String) });
    }
    expect((await stored(ns, stream)).length).toBe(before);
    const messageId = randomName('m');
    const mixed = await send(
      ingest,
      '/v1/batch',
      {
        batch: [
          { type: 'track', userId: 'u' },
          { type: 'track', userId: 'u', event: 'ok', messageId },
        ],
      },
      headers,
    );
    expect(mixed.statusCode).toBe(200);
    expect(mixed.json()).toMatchObject({
      success: true,
      accepted: 1,
      rejectedCount: 1,
      rejected: [{ index: 0, code: 'SPOOL_INVALID_EVENT', message: 'a track message needs "event"' }],
    });
  });

  it("refuses an oversized message (MAX_EVENT_BYTES) and an oversized batch (MAX_BATCH_BYTES) with 400, Segment's answer", async () => {
    const headers = { 'content-type': 'application/json', authorization: basic('web-key-0001') };
    const big = await send(
      ingest,
      '/v1/track',
      { userId: 'u', event: 'E', properties: { pad: 'x'.repeat(5_000) } },
      headers,
    );
    // 400, not the native API's 413: analytics-swift sends a batch refused with 413 again for ever.
    expect(big.statusCode).toBe(400);
    expect(big.json()).toMatchObject({
      statusCode: 400,
      code: 'SPOOL_EVENT_TOO_LARGE',
      error: 'Bad Request',
    });
    const batch = {
      batch: Array.from({ length: 30 }, () => ({ type: 'track', userId: 'u', event: 'x'.repeat(3_000) })),
    };
    const tooMuch = await send(ingest, '/v1/batch', batch, headers);
    expect(tooMuch.statusCode).toBe(400);
    expect(tooMuch.json()).toMatchObject({ code: 'SPOOL_BODY_TOO_LARGE' });
    // The limit it names is the tracking API's (MAX_BATCH_BYTES, 64 KiB here), gzip or not.
    expect(tooMuch.json().message).toContain(String(64 * 1024));
    const zipped = await send(ingest, '/v1/batch', gzipSync(JSON.stringify(batch)), {
      ...headers,
      'content-encoding': 'gzip',
    });
    expect([zipped.statusCode, zipped.json().code]).toEqual([400, 'SPOOL_BODY_TOO_LARGE']);
    expect(zipped.json().message).toContain(String(64 * 1024));
  });

  it('refuses a batch whose shared context, written into each message, would make more than the request may store (400)', async () => {
    const headers = { 'content-type': 'application/json', authorization: basic('web-key-0001') };
    // 62 KB of body; as stored, 1,000 messages of 20 KB each (20 MB), every one over
    // MAX_EVENT_BYTES: refused once the lines made pass 2 × MAX_BODY_BYTES, not built to the end.
    const batch = {
      context: { pad: 'y'.repeat(20_000) },
      batch: Array.from({ length: 1_000 }, () => ({ type: 'track', userId: 'u', event: 'e' })),
    };
    expect(JSON.stringify(batch).length).toBeLessThan(64 * 1024);
    const before = (await stored(ns, stream)).length;
    const answer = await send(ingest, '/v1/batch', batch, headers);
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toMatchObject({ code: 'SPOOL_REQUEST_TOO_LARGE' });
    expect((await stored(ns, stream)).length).toBe(before);
  });

  it('holds a message to MAX_EVENT_BYTES as the SDK sends it, not with the fields Spool adds', async () => {
    const headers = { 'content-type': 'application/json', authorization: basic('web-key-0001') };
    // As analytics-node sends it: its own messageId and timestamp, the batch's sentAt.
    const messageOf = (bytes: number, n: number) => {
      const message = {
        type: 'track',
        event: `Sized ${n}`,
        userId: 'u-1',
        messageId: randomName('m'),
        timestamp: '2026-12-02T10:00:00.000Z',
        context: { library: { name: '@segment/analytics-node', version: '3.1.0' } },
        properties: { pad: '' },
      };
      message.properties.pad = 'x'.repeat(bytes - JSON.stringify(message).length);
      expect(JSON.stringify(message).length).toBe(bytes);
      return message;
    };
    const limit = 4 * 1024; // MAX_EVENT_BYTES here
    const answer = await send(
      ingest,
      '/v1/batch',
      { batch: [messageOf(limit, 1), messageOf(limit + 1024 + 1, 2)], sentAt: '2026-12-02T10:00:01.000Z' },
      headers,
    );
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toMatchObject({
      accepted: 1,
      rejected: [{ index: 1, code: 'SPOOL_EVENT_TOO_LARGE' }],
    });
    const line = (await stored(ns, stream)).find((message) => message.event === 'Sized 1');
    expect(line).toBeDefined();
    // Stored with what Spool adds: past the limit as sent.
    expect(JSON.stringify(line).length).toBeGreaterThan(limit);
  });

  it('stores a retried messageId once, counting the retry as a duplicate', async () => {
    const headers = { 'content-type': 'application/json', authorization: basic('web-key-0001') };
    const messageId = randomName('m');
    const message = { userId: 'u', event: 'E', messageId };
    expect((await send(ingest, '/v1/track', message, headers)).json()).toMatchObject({
      accepted: 1,
      duplicates: 0,
    });
    expect((await send(ingest, '/v1/track', message, headers)).json()).toMatchObject({
      accepted: 0,
      duplicates: 1,
    });
    expect((await stored(ns, stream)).filter((line) => line.messageId === messageId)).toHaveLength(1);
  });

  it('keeps a numeric messageId as its text, and stores its retry once', async () => {
    const headers = { 'content-type': 'application/json', authorization: basic('web-key-0001') };
    // An id no other test of this stream uses: a safe integer of this run's clock.
    const messageId = Date.now() * 1_000 + Math.floor(Math.random() * 1_000);
    const message = { userId: 'u', event: 'Numbered', messageId };
    expect((await send(ingest, '/v1/track', message, headers)).json()).toMatchObject({ accepted: 1 });
    expect((await send(ingest, '/v1/track', message, headers)).json()).toMatchObject({
      accepted: 0,
      duplicates: 1,
    });
    expect((await stored(ns, stream)).filter((line) => line.messageId === String(messageId))).toHaveLength(1);
  });

  it("keeps 64-bit ids past 2^53 digit for digit: a numeric userId and messageId as their text (the messageId's retry stored once), a number in properties as a number", async () => {
    const headers = { 'content-type': 'application/json', authorization: basic('web-key-0001') };
    // Ids of this run, past 2^53 (a Go or Java client's int64), odd: no double holds them.
    const base = 9_007_199_254_740_993n + 2n * BigInt(Date.now());
    const [messageId, userId] = [base, base + 2n].map(String);
    const batch = `{"batch":[{"type":"track","event":"Big","userId":${userId},"messageId":${messageId},"properties":{"n":${userId}}}]}`;
    expect((await send(ingest, '/v1/batch', batch, headers)).json()).toMatchObject({ accepted: 1 });
    expect((await send(ingest, '/v1/batch', batch, headers)).json()).toMatchObject({
      accepted: 0,
      duplicates: 1,
    });
    const text = (await redis.get(streamKeys(stream, ns).buf)) ?? '';
    const lines = text.split('\n').filter((line) => line.includes(`"messageId":"${messageId}"`));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`"userId":"${userId}",`);
    expect(lines[0]).toContain(`"properties":{"n":${userId}}`);
  });

  it('keeps a numeric messageId of 100 digits as its text, whose retry is stored once, and refuses one of 101 as it does a string that long', async () => {
    const headers = { 'content-type': 'application/json', authorization: basic('web-key-0001') };
    const hundred = `${Date.now()}${'7'.repeat(87)}`;
    const batch = (id: string) =>
      `{"batch":[{"type":"track","event":"Long","userId":"u","messageId":${id}}]}`;
    expect((await send(ingest, '/v1/batch', batch(hundred), headers)).json()).toMatchObject({ accepted: 1 });
    expect((await send(ingest, '/v1/batch', batch(hundred), headers)).json()).toMatchObject({
      accepted: 0,
      duplicates: 1,
    });
    const tooLong = await send(
      ingest,
      '/v1/track',
      `{"event":"Long","userId":"u","messageId":${hundred}1}`,
      headers,
    );
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().message).toContain('messageId may have at most 100 characters; this one has 101');
    const text = (await redis.get(streamKeys(stream, ns).buf)) ?? '';
    expect(text.split('\n').filter((line) => line.includes('"event":"Long"'))).toEqual([
      expect.stringContaining(`"messageId":"${hundred}"`),
    ]);
  });

  it("serves analytics.js's settings for a known key, pointing it here, and refuses an unknown one", async () => {
    const settings = await ingest.app.inject({
      url: '/v1/projects/web-key-0001/settings',
      headers: { host: 'spool.test:8080' },
    });
    expect(settings.statusCode).toBe(200);
    expect(settings.json()).toEqual({
      integrations: {
        'Segment.io': { apiKey: 'web-key-0001', apiHost: 'spool.test:8080/v1', protocol: 'http' },
      },
      metrics: { sampleRate: 0 },
    });
    expect((await ingest.app.inject({ url: '/v1/projects/nope/settings' })).statusCode).toBe(401);
    // analytics.js writes the key into the path as it is: a base64 key's "/" (doubled, first or
    // last too), a key of 150 characters.
    for (const key of ['b64+key/0003=', 'Zm9v//YmFy', '/c2xhc2g=', 'dHJhaWw/', LONG_KEY]) {
      const answer = await ingest.app.inject({ url: `/v1/projects/${key}/settings` });
      expect({ key, status: answer.statusCode }).toEqual({ key, status: 200 });
      expect(answer.json().integrations['Segment.io'].apiKey).toBe(key);
    }
    // Another path there is not found, and reads no key (nor counts as a guess at one).
    for (const url of ['/v1/projects/web-key-0001/other', '/v1/projects/settings', '/v1/projects/']) {
      const answer = await ingest.app.inject({ url });
      expect({ url, status: answer.statusCode, code: answer.json().code }).toEqual({
        url,
        status: 404,
        code: 'SPOOL_NOT_FOUND',
      });
    }
  });

  it('tells analytics.js to send over https from an https page, or when it asked over https, even where TLS ended at a proxy', async () => {
    const protocolFor = async (headers: Record<string, string>) => {
      const response = await ingest.app.inject({
        url: '/v1/projects/web-key-0001/settings',
        // A public host unless the case names one (inject's own is localhost, a loopback host).
        headers: { host: 'spool.test', ...headers },
      });
      // Each name once: CORS's Origin kept, not repeated.
      const varies = String(response.headers.vary).split(', ');
      expect(varies.toSorted()).toEqual(['Host', 'Origin', 'Referer', 'Sec-Fetch-Mode', 'X-Forwarded-Proto']);
      return response.json().integrations['Segment.io'].protocol;
    };
    // A page elsewhere (its Origin), and one served by this host (its Referer): http is blocked there.
    expect(await protocolFor({ origin: 'https://shop.example' })).toBe('https');
    expect(await protocolFor({ referer: 'https://spool.test/page.html' })).toBe('https');
    // A sandboxed page's Origin is `null`, which says nothing of its scheme: its Referer does.
    expect(await protocolFor({ origin: 'null', referer: 'https://spool.test/page.html' })).toBe('https');
    // A page over http may send over http (make dev).
    expect(await protocolFor({ origin: 'http://127.0.0.1:3000' })).toBe('http');
    expect(await protocolFor({})).toBe('http');
    // An untrusted X-Forwarded-Proto is not believed (TRUST_PROXY is off here).
    expect(await protocolFor({ 'x-forwarded-proto': 'https' })).toBe('http');
    // A same-origin page with `Referrer-Policy: no-referrer` names no page, but a browser sends
    // Fetch metadata only to https and loopback URLs: to a public host, it asked over https.
    const fromBrowser = { 'sec-fetch-mode': 'cors', 'sec-fetch-site': 'same-origin' };
    expect(await protocolFor({ ...fromBrowser, host: 'shop.example' })).toBe('https');
    expect(await protocolFor({ ...fromBrowser, host: 'shop.example', origin: 'null' })).toBe('https');
    expect(await protocolFor({ ...fromBrowser, host: 'localhost:8080' })).toBe('http');
    expect(await protocolFor({ ...fromBrowser, host: '127.0.0.1:8080' })).toBe('http');
    expect(await protocolFor({ ...fromBrowser, host: '[::1]:8080' })).toBe('http');
    expect(await protocolFor({ ...fromBrowser, host: 'app.localhost' })).toBe('http');
    // Asked over https from a page over http (TLS ended at a proxy that may answer nothing over
    // http): https, which an http page may send to.
    expect(await protocolFor({ ...fromBrowser, host: 'shop.example', origin: 'http://shop.example' })).toBe(
      'https',
    );
    // A loopback host asked over http, from an https page: browsers send there over http, and
    // such a host (make dev) may answer nothing over https.
    for (const host of ['localhost:8080', '127.0.0.1:8080', '[::1]:8080', 'app.localhost']) {
      expect(await protocolFor({ ...fromBrowser, host, origin: 'https://shop.example' })).toBe('http');
      expect(await protocolFor({ host, referer: 'https://shop.example/page.html' })).toBe('http');
    }
    // Without Fetch metadata (an older browser), nothing says https.
    expect(await protocolFor({ host: 'shop.example', origin: 'null' })).toBe('http');
  });

  it("serves RudderStack's source config for a known key, with no destinations", async () => {
    const config = await ingest.app.inject({
      url: '/sourceConfig/?p=npm&v=3.34.1&writeKey=web-key-0001',
      headers: { authorization: basic('web-key-0001') },
    });
    expect(config.statusCode).toBe(200);
    expect(config.json()).toMatchObject({ source: { config: {}, destinations: [], enabled: true } });
    // Every field rudder-sdk-kotlin's decoder (SourceConfig.kt: RudderServerConfigSource)
    // requires, and rudder-sdk-swift's `config.statsCollection`.
    expect(config.json()).toMatchObject({
      source: {
        id: expect.any(String),
        name: expect.any(String),
        writeKey: 'web-key-0001',
        enabled: true,
        workspaceId: expect.any(String),
        updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } },
      },
    });
    // Cacheable, once per key: RudderStack's mobile SDKs send theirs in the header alone, on a URL
    // every app of an SDK version shares.
    const mobile = await ingest.app.inject({
      url: '/sourceConfig?p=android&v=1.20.0&bv=34',
      headers: { authorization: basic('web-key-0001') },
    });
    expect(mobile.statusCode).toBe(200);
    expect(mobile.headers['cache-control']).toContain('public');
    expect(String(mobile.headers.vary).split(/,\s*/)).toContain('Authorization');
    const wrong = await ingest.app.inject({ url: '/sourceConfig/?writeKey=nope' });
    // The words RudderStack's mobile SDKs look for to stop sending with a wrong key (any case).
    expect([wrong.statusCode, wrong.json().message]).toEqual([401, 'Invalid write key']);
    for (const url of ['/sourceConfig/', '/sourceConfig/?writeKey=', '/v1/projects//settings']) {
      const missing = await ingest.app.inject({ url });
      expect({ url, status: missing.statusCode, message: missing.json().message }).toEqual({
        url,
        status: url.startsWith('/v1/projects') ? 404 : 401,
        message: url.startsWith('/v1/projects') ? expect.any(String) : 'A write key is required',
      });
    }
  });

  it("answers a browser's preflight with the SDKs' own headers allowed and Retry-After readable", async () => {
    const response = await ingest.app.inject({
      method: 'OPTIONS',
      url: '/v1/t',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,anonymousid,sentat,content-type',
      },
    });
    expect(response.statusCode).toBe(204);
    expect(response.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(response.headers['access-control-allow-credentials']).toBe('true');
    expect(String(response.headers['access-control-allow-headers']).toLowerCase()).toContain('anonymousid');
    const answer = await send(
      ingest,
      '/v1/t',
      { userId: 'u', event: 'E' },
      {
        'content-type': 'text/plain',
        origin: 'https://shop.example',
        authorization: basic('web-key-0001'),
      },
    );
    expect(String(answer.headers['access-control-expose-headers']).toLowerCase()).toContain('retry-after');
  });
});

describe("Jitsu's routes on a keyed service", () => {
  const ns = randomName('jitsu');
  const stream = randomName('web');
  // Jitsu's keys are `id:secret`; a WRITE_KEYS entry is split at its last ':'.
  const KEY = 'js-id-0001:js-secret';
  let ingest: TestIngest;
  beforeAll(async () => {
    ingest = await startTestIngest({ REDIS_NAMESPACE: ns, WRITE_KEYS: `${KEY}:${stream}` });
  });
  afterAll(() => ingest.close());

  /** A message as @jitsu/js sends it: typed, timed, with its key masked in the body. */
  const jitsuMessage = (type: string, fields: Record<string, unknown>) => ({
    type,
    anonymousId: 'anon-1',
    messageId: randomName('m'),
    timestamp: '2026-12-05T10:00:00.000Z',
    sentAt: '2026-12-05T10:00:00.000Z',
    writeKey: 'js-id-0001:***',
    context: { library: { name: '@jitsu/js', env: 'node' } },
    ...fields,
  });

  it.each([
    ['track', { event: 'Signed Up' }],
    ['identify', { userId: 'u-1', traits: { plan: 'pro' } }],
    ['page', { properties: { path: '/pricing' } }],
    ['screen', { name: 'Home' }],
    ['group', { groupId: 'g-1' }],
    ['alias', { previousId: 'anon-0' }],
  ])(
    '/api/s/%s, its short and its s2s routes store one message, with the key in X-Write-Key and none stored',
    async (type, fields) => {
      for (const url of [`/api/s/${type}`, `/api/s/s2s/${type}`, `/api/s/${type.charAt(0)}`]) {
        const message = jitsuMessage(type === 'track' ? 'wrong' : type, fields);
        const response = await send(ingest, url, message, {
          'content-type': 'application/json',
          'x-write-key': KEY,
        });
        expect(response.statusCode).toBe(200);
        expect(response.json()).toMatchObject({ success: true, accepted: 1 });
        const line = (await stored(ns, stream)).find((stored) => stored.messageId === message.messageId);
        expect(line).toMatchObject({
          type,
          ...fields,
          context: { library: { name: '@jitsu/js' }, ip: '127.0.0.1' },
        });
        expect(line).not.toHaveProperty('writeKey');
      }
    },
  );

  it('takes no key from the body, and refuses a missing, wrong or repeated X-Write-Key with 401', async () => {
    const message = jitsuMessage('track', { event: 'E', writeKey: KEY });
    const answers = [];
    for (const headers of [
      {},
      { 'x-write-key': 'js-id-0001:wrong' },
      { 'x-write-key': [KEY, KEY] },
      { 'x-write-key': '' },
    ] as Array<Record<string, string | string[]>>) {
      const response = await ingest.app.inject({
        method: 'POST',
        url: '/api/s/track',
        headers: { 'content-type': 'application/json', ...headers },
        payload: JSON.stringify(message),
      });
      answers.push([response.statusCode, response.json().message]);
    }
    const missing =
      'A write key is required: X-Write-Key, Basic with the key as user name, Bearer, or ?writekey=';
    expect(answers).toEqual([
      [401, missing],
      [401, 'Invalid write key'],
      [401, 'Invalid write key'],
      [401, missing],
    ]);
    expect((await stored(ns, stream)).some((line) => line.messageId === message.messageId)).toBe(false);
  });

  it('takes the key as ?writekey=, as Jitsu does, on its batch route too', async () => {
    const message = jitsuMessage('track', { event: 'E' });
    const response = await send(ingest, `/api/s/s2s/t?writekey=${encodeURIComponent(KEY)}`, message);
    expect(response.statusCode).toBe(200);
    const batched = jitsuMessage('track', { event: 'E' });
    const batch = await send(ingest, `/api/s/s2s/batch?writekey=${encodeURIComponent(KEY)}`, {
      batch: [batched],
    });
    expect(batch.statusCode).toBe(200);
    const ids = (await stored(ns, stream)).map((line) => line.messageId);
    expect(ids).toEqual(expect.arrayContaining([message.messageId, batched.messageId]));
  });

  it('refuses a missing or wrong key before reading the body, and knows no other type', async () => {
    await ingest.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = ingest.app.server.address() as AddressInfo;
    // No body is ever sent: the answer comes from the head alone (else the test times out).
    expect(await statusWithoutBody(port, '/api/s/track', 'js-id-0001:wrong', 'X-Write-Key')).toBe(401);
    expect(await statusWithoutBody(port, '/api/s/page', 'no-key-here', 'X-Not-A-Key-Header')).toBe(401);
    const unknown = await send(ingest, '/api/s/purchase', jitsuMessage('track', { event: 'E' }), {
      'content-type': 'application/json',
      'x-write-key': KEY,
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('types a message sent to /api/s/event (/api/s/e) by its own type, which it must have', async () => {
    const headers = { 'content-type': 'application/json', 'x-write-key': KEY };
    const message = jitsuMessage('identify', { userId: 'u-2' });
    expect((await send(ingest, '/api/s/s2s/event', message, headers)).statusCode).toBe(200);
    const line = (await stored(ns, stream)).find((stored) => stored.messageId === message.messageId);
    expect(line).toMatchObject({ type: 'identify', userId: 'u-2' });
    const untyped = await send(
      ingest,
      '/api/s/e',
      { ...jitsuMessage('track', { event: 'E' }), type: undefined },
      headers,
    );
    expect([untyped.statusCode, untyped.json().code]).toEqual([400, 'SPOOL_INVALID_EVENT']);
  });

  it('stores a message with neither userId nor anonymousId (its cookieless mode), in a batch too', async () => {
    const { anonymousId: _, ...cookieless } = jitsuMessage('track', { event: 'No Cookies' });
    const headers = { 'content-type': 'application/json', 'x-write-key': KEY };
    expect((await send(ingest, '/api/s/track', cookieless, headers)).statusCode).toBe(200);
    const batched = { ...jitsuMessage('page', {}), anonymousId: undefined };
    const batch = await send(
      ingest,
      '/api/s/s2s/batch',
      { writeKey: KEY, batch: [batched] },
      {
        'content-type': 'application/json',
      },
    );
    expect(batch.json()).toMatchObject({ success: true, accepted: 1 });
    const lines = await stored(ns, stream);
    for (const id of [cookieless.messageId, batched.messageId]) {
      expect(lines.find((line) => line.messageId === id)).not.toHaveProperty('anonymousId');
    }
    // Segment's routes still need one.
    const segment = await send(ingest, '/v1/track', cookieless, {
      'content-type': 'application/json',
      authorization: `Bearer ${KEY}`,
    });
    expect(segment.statusCode).toBe(400);
  });

  it("stores a page's request address as context.ip, whatever the page says; a server's own is kept", async () => {
    const headers = { 'content-type': 'application/json', 'x-write-key': KEY };
    const fromPage = jitsuMessage('track', { event: 'E', context: { ip: '6.6.6.6' } });
    const fromServer = jitsuMessage('track', { event: 'E', context: { ip: '198.51.100.7' } });
    await send(ingest, '/api/s/track', fromPage, headers);
    await send(ingest, '/api/s/s2s/track', fromServer, headers);
    const lines = await stored(ns, stream);
    const ipOf = (id: string) =>
      (lines.find((line) => line.messageId === id)?.context as { ip?: string })?.ip;
    expect([ipOf(fromPage.messageId), ipOf(fromServer.messageId)]).toEqual(['127.0.0.1', '198.51.100.7']);
  });

  it("stores less of the client's address when its X-IP-Policy asks (the SDK's privacy.ipPolicy)", async () => {
    const ips: unknown[] = [];
    for (const policy of ['stripLastOctet', 'remove', 'keep']) {
      const message = jitsuMessage('track', { event: 'E' });
      const response = await send(ingest, '/api/s/track', message, {
        'content-type': 'application/json',
        'x-write-key': KEY,
        'x-ip-policy': policy,
      });
      expect(response.statusCode).toBe(200);
      const line = (await stored(ns, stream)).find((stored) => stored.messageId === message.messageId);
      ips.push((line?.context as Record<string, unknown> | undefined)?.ip ?? 'none');
    }
    expect(ips).toEqual(['127.0.0.0', 'none', '127.0.0.1']);
  });

  it('serves its snippet, /p.js, without a key: gzipped where taken, revalidated by its ETag', async () => {
    const get = (headers: Record<string, string>, method: 'GET' | 'HEAD' = 'GET') =>
      ingest.app.inject({ method, url: '/p.js', headers });
    const plain = await get({});
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(plain.headers['cache-control']).toBe('public, max-age=300');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toContain('/api/s/');
    const etag = String(plain.headers.etag);

    const zipped = await get({ 'accept-encoding': 'br, gzip;q=0.8' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(String(zipped.headers.vary)).toContain('Accept-Encoding');
    expect(gunzipSync(zipped.rawPayload).toString()).toBe(plain.body);
    expect(zipped.rawPayload.length).toBeLessThan(plain.rawPayload.length / 3);
    // Refused by its q-value: sent as it is.
    expect(
      (await get({ 'accept-encoding': 'gzip;q=0, identity' })).headers['content-encoding'],
    ).toBeUndefined();

    // Each encoding's bytes have their own tag.
    const zippedTag = String(zipped.headers.etag);
    expect(zippedTag).not.toBe(etag);
    for (const ifNoneMatch of [zippedTag, `W/${zippedTag}`, `"other", ${zippedTag}`, '*']) {
      const revalidated = await get({ 'if-none-match': ifNoneMatch, 'accept-encoding': 'gzip' });
      expect([ifNoneMatch, revalidated.statusCode, revalidated.rawPayload.length]).toEqual([
        ifNoneMatch,
        304,
        0,
      ]);
    }
    expect((await get({ 'if-none-match': etag })).statusCode).toBe(304);
    expect((await get({ 'if-none-match': zippedTag })).statusCode).toBe(200);
    expect((await get({ 'if-none-match': '"other"' })).statusCode).toBe(200);
    const head = await get({}, 'HEAD');
    expect([head.statusCode, head.headers.etag, head.rawPayload.length]).toEqual([200, etag, 0]);
  });

  it("answers a browser's preflight allowing X-Write-Key", async () => {
    const response = await ingest.app.inject({
      method: 'OPTIONS',
      url: '/api/s/page',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-write-key',
      },
    });
    expect(response.statusCode).toBe(204);
    expect(String(response.headers['access-control-allow-headers']).toLowerCase()).toContain('x-write-key');
  });
});

describe('the tracking API on an open service', () => {
  it('writes to DEFAULT_STREAM, fills context.ip through TRUST_PROXY, and applies IP_POLICY', async () => {
    const ns = randomName('trk');
    const ingest = await startTestIngest({
      REDIS_NAMESPACE: ns,
      TRUST_PROXY: '127.0.0.1',
      IP_POLICY: 'truncate',
    });
    try {
      const response = await send(
        ingest,
        '/v1/track',
        { userId: 'u', event: 'E' },
        {
          'content-type': 'application/json',
          'x-forwarded-for': '203.0.113.77',
        },
      );
      expect(response.statusCode).toBe(200);
      // A port the proxy wrote beside the address is not part of it.
      const ported = await send(
        ingest,
        '/v1/track',
        { userId: 'u', event: 'E' },
        { 'content-type': 'application/json', 'x-forwarded-for': '[2001:db8:1:2:3:4:5:6]:443' },
      );
      expect(ported.statusCode).toBe(200);
      const [line, portedLine] = await stored(ns, 'events');
      expect(line?.context).toEqual({ ip: '203.0.113.0' });
      expect(portedLine?.context).toEqual({ ip: '2001:db8:1::' });
    } finally {
      await ingest.close();
    }
  });

  it('stores an IPv4 client written as IPv6 (a dual-stack listener, a proxy) as its IPv4 address', async () => {
    const ns = randomName('trk');
    const ingest = await startTestIngest({
      REDIS_NAMESPACE: ns,
      TRUST_PROXY: '127.0.0.1',
      IP_POLICY: 'keep',
    });
    try {
      for (const written of ['::ffff:203.0.113.5', '[::ffff:203.0.113.6]:443']) {
        const response = await send(
          ingest,
          '/v1/track',
          { userId: 'u', event: 'E' },
          { 'content-type': 'application/json', 'x-forwarded-for': written },
        );
        expect(response.statusCode).toBe(200);
      }
      const lines = await stored(ns, 'events');
      expect(lines.map((line) => line.context)).toEqual([{ ip: '203.0.113.5' }, { ip: '203.0.113.6' }]);
    } finally {
      await ingest.close();
    }
  });

  it('takes an address with a zone ipaddr.js cannot read, in X-Forwarded-For or context.ip, and logs its requests (it ended the process, and answered 500)', async () => {
    const ns = randomName('trk');
    // The real process, logging each request (the serializer threw there).
    const ingest = await spawnService(
      SPOOL_MAINS.ingest,
      ingestTestEnv({ REDIS_NAMESPACE: ns, TRUST_PROXY: '127.0.0.1', LOG_LEVEL: 'debug' }),
    );
    try {
      const post = (headers: Record<string, string>, body: unknown) =>
        fetch(`${ingest.url}/v1/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(body),
        });
      const event = { type: 'track', userId: 'u', event: 'E' };
      for (const forwarded of ['::ffff:203.0.113.5%-', 'fe80::1%br-lan']) {
        for (const policy of ['keep', 'stripLastOctet']) {
          const answer = await post(
            { 'x-forwarded-for': forwarded, 'x-ip-policy': policy },
            { batch: [event] },
          );
          expect({ forwarded, policy, status: answer.status }).toEqual({ forwarded, policy, status: 200 });
        }
      }
      const zoned = { ...event, context: { ip: 'fe80::1%eth0.100' } };
      const truncated = await post({ 'x-ip-policy': 'stripLastOctet' }, { batch: [event, zoned] });
      expect(truncated.status).toBe(200);
      expect((await fetch(`${ingest.url}/healthz`)).status).toBe(200);
      const lines = await stored(ns, 'events');
      expect(lines.map((line) => line.context)).toEqual([
        // An IPv4 address, kept and truncated; an IPv6 one kept as it came, truncated without its zone.
        { ip: '203.0.113.5' },
        { ip: '203.0.113.0' },
        { ip: 'fe80::1%br-lan' },
        { ip: 'fe80::' },
        { ip: '127.0.0.0' },
        { ip: 'fe80::' },
      ]);
    } finally {
      expect(await ingest.stop()).toBe(0);
    }
  });

  it("reads a request's client address from X-Forwarded-For once, however many steps read it (in-flight bound, rate limit, context.ip)", async () => {
    const ingest = await rateLimitedIngest(100, { TRUST_PROXY: '127.0.0.1' });
    // Registered after the app's own onRequest hooks (the in-flight bound reads the address
    // first): every read of the header from here on is one more parse of it.
    let readsAfterFirst = 0;
    ingest.app.addHook('onRequest', (request, _reply, done) => {
      const header = request.raw.headers['x-forwarded-for'];
      Object.defineProperty(request.raw.headers, 'x-forwarded-for', {
        get: () => {
          readsAfterFirst += 1;
          return header;
        },
      });
      done();
    });
    try {
      // A client's own hops before the proxy's: each read parses all of them.
      const hops = Array.from({ length: 800 }, (_, index) => `198.51.${index >> 8}.${index & 255}`);
      const response = await send(
        ingest,
        '/v1/track',
        { userId: 'u', event: 'E' },
        { 'content-type': 'application/json', 'x-forwarded-for': [...hops, '203.0.113.77'].join(', ') },
      );
      expect(response.statusCode).toBe(200);
      expect(readsAfterFirst).toBe(0);
    } finally {
      await ingest.close();
    }
  });

  it("names the Host it was asked for in analytics.js's settings, never a forwarded one, even behind a trusted proxy", async () => {
    const ingest = await startTestIngest({ REDIS_NAMESPACE: randomName('trk'), TRUST_PROXY: 'loopback' });
    try {
      const settings = await ingest.app.inject({
        url: '/v1/projects/any-key/settings',
        headers: {
          host: 'spool.test:8080',
          'x-forwarded-host': 'evil.example',
          'x-forwarded-proto': 'https',
        },
      });
      // The proxy's word on the scheme is believed (TRUST_PROXY); a forwarded host never is.
      expect(settings.json().integrations['Segment.io']).toMatchObject({
        apiHost: 'spool.test:8080/v1',
        protocol: 'https',
      });
    } finally {
      await ingest.close();
    }
  });

  it('answers 429 with Retry-After and X-RateLimit-Reset past the rate limit', async () => {
    const ingest = await rateLimitedIngest(2);
    try {
      const statuses: number[] = [];
      let last: Awaited<ReturnType<typeof send>> | undefined;
      for (let i = 0; i < 3; i += 1) {
        last = await send(ingest, '/v1/track', { userId: 'u', event: 'E' });
        statuses.push(last.statusCode);
      }
      expect(statuses).toEqual([200, 200, 429]);
      expect(Number(last?.headers['retry-after'])).toBeGreaterThan(0);
      expect(last?.headers['x-ratelimit-reset']).toBeDefined();
    } finally {
      await ingest.close();
    }
  });
});

/** The status of the answer to a request whose head promises a body that is never sent. */
function statusWithoutBody(
  port: number,
  path: string,
  key: string,
  keyHeader = 'Authorization',
): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: spool\r\nContent-Type: application/json\r\n` +
          `${keyHeader}: ${key}\r\nContent-Length: 4096\r\n\r\n`,
      ),
    );
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk;
      if (!head.includes('\r\n\r\n')) return;
      socket.destroy();
      resolve(Number(head.split(' ')[1]));
    });
    socket.on('error', reject);
  });
}

describe('the tracking API with the key in the Authorization header', () => {
  it('counts and refuses a request before reading its body: 401 for a wrong key, then 429', async () => {
    const ingest = await rateLimitedIngest(2, { WRITE_KEYS: 'header-key-0001:*' });
    try {
      await ingest.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = ingest.app.server.address() as AddressInfo;
      // No body is ever sent: each answer comes from the head alone (else the test times out).
      const guesses: number[] = [];
      for (const path of ['/v1/batch', '/v1/track', '/v1/b']) {
        guesses.push(await statusWithoutBody(port, path, basic('guessed-key-9')));
      }
      expect(guesses).toEqual([401, 401, 429]);
      const valid = [];
      for (let i = 0; i < 3; i += 1) {
        valid.push(
          await send(
            ingest,
            '/v1/track',
            { userId: 'u', event: 'E' },
            {
              'content-type': 'application/json',
              authorization: basic('header-key-0001'),
            },
          ),
        );
      }
      expect(valid.map((answer) => answer.statusCode)).toEqual([200, 200, 429]);
      expect(await statusWithoutBody(port, '/v1/batch', basic('header-key-0001'))).toBe(429);
    } finally {
      await ingest.close();
    }
  });
});

describe("the tracking API with Segment's OAuth: an access token as Bearer, the write key in the body", () => {
  it("decides by the body's key, counted in its bucket; a Bearer that is no key, alone, is refused (401) and counted against the address", async () => {
    const ingest = await rateLimitedIngest(2, { WRITE_KEYS: 'oauth-key-0001:*' });
    try {
      const headers = {
        'content-type': 'application/json',
        authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.token.sig',
      };
      const alone = [];
      for (let i = 0; i < 3; i += 1)
        alone.push(await send(ingest, '/v1/track', { userId: 'u', event: 'E' }, headers));
      expect(alone.map((answer) => answer.statusCode)).toEqual([401, 401, 429]);
      expect(alone[0]?.json().message).toBe('Invalid write key');
      const withKey = [];
      for (let i = 0; i < 3; i += 1) {
        withKey.push(
          await send(ingest, '/v1/track', { writeKey: 'oauth-key-0001', userId: 'u', event: 'E' }, headers),
        );
      }
      expect(withKey.map((answer) => answer.statusCode)).toEqual([200, 200, 429]);
      // A wrong key beside the token is refused as any wrong key.
      const other = await rateLimitedIngest(0, { WRITE_KEYS: 'oauth-key-0001:*' });
      try {
        const wrong = await send(
          other,
          '/v1/batch',
          { writeKey: 'nope', batch: [{ type: 'track', userId: 'u', event: 'E' }] },
          headers,
        );
        expect([wrong.statusCode, wrong.json().message]).toEqual([401, 'Invalid write key']);
      } finally {
        await other.close();
      }
    } finally {
      await ingest.close();
    }
  });
});

describe('the tracking API without a key in the Authorization header, rate-limited', () => {
  it('counts a request whose body never parses against its address: broken bodies are limited too', async () => {
    const ingest = await rateLimitedIngest(3, { WRITE_KEYS: 'body-key-0001:*' });
    try {
      const broken = [
        '{"writeKey":"body-key-0001","batch":[',
        Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
        gzipSync('{"batch":[]}').subarray(0, 12),
      ];
      const answers = [];
      for (const [i, payload] of broken.entries()) {
        answers.push(
          await ingest.app.inject({
            method: 'POST',
            url: '/v1/batch',
            headers: { 'content-type': 'text/plain', ...(i === 2 ? { 'content-encoding': 'gzip' } : {}) },
            payload,
          }),
        );
      }
      expect(answers.map((answer) => answer.statusCode)).toEqual([400, 400, 400]);
      expect(answers.map((answer) => answer.headers['x-ratelimit-remaining'])).toEqual(['2', '1', '0']);
      // The address's room is used up: a request with no key at all waits.
      const next = await send(ingest, '/v1/track', { userId: 'u', event: 'E' });
      expect(next.statusCode).toBe(429);
      // A key in the body has a bucket of its own, as before.
      const keyed = await send(ingest, '/v1/track', { writeKey: 'body-key-0001', userId: 'u', event: 'E' });
      expect(keyed.statusCode).toBe(200);
    } finally {
      await ingest.close();
    }
  });
});

describe("the SDKs' settings routes and the beacon on a keyed, rate-limited service", () => {
  it('count guesses at a key against the address, as the event routes do: 429 past the limit', async () => {
    const ingest = await rateLimitedIngest(2, { WRITE_KEYS: 'known-key-0001:*' });
    try {
      const statuses: number[] = [];
      for (const url of [
        '/v1/projects/guess-1/settings',
        '/sourceConfig/?writeKey=guess-2',
        '/v1/projects/guess-3/settings',
      ]) {
        statuses.push((await ingest.app.inject({ url })).statusCode);
      }
      expect(statuses).toEqual([401, 401, 429]);
    } finally {
      await ingest.close();
    }
  });

  it("never refuse a valid key's settings, and its beacons only past twice the limit: a 429 there loses the page's events", async () => {
    const ns = randomName('trk');
    const ingest = await rateLimitedIngest(2, { WRITE_KEYS: 'known-key-0001:site', REDIS_NAMESPACE: ns });
    const track = (n: number) =>
      send(ingest, '/v1/track', { writeKey: 'known-key-0001', userId: 'u', event: `E${n}` });
    try {
      // The key's bucket, shared by every visitor of the site, is used up: tracking requests wait.
      expect([(await track(1)).statusCode, (await track(2)).statusCode, (await track(3)).statusCode]).toEqual(
        [200, 200, 429],
      );
      const settings = await ingest.app.inject({ url: '/v1/projects/known-key-0001/settings' });
      const source = await ingest.app.inject({ url: '/sourceConfig/?writeKey=known-key-0001' });
      expect([settings.statusCode, source.statusCode]).toEqual([200, 200]);
      // The beacon, which nothing retries, is stored (the 4th request of the window, within twice
      // the limit); and counted: the request after it still waits.
      const beacon = (event: string) =>
        send(ingest, '/beacon/v1/batch?writeKey=known-key-0001', {
          batch: [{ type: 'track', userId: 'u', event }],
        });
      expect((await beacon('Left')).statusCode).toBe(200);
      expect((await stored(ns, 'site')).map((message) => message.event)).toEqual(['E1', 'E2', 'Left']);
      expect((await track(4)).statusCode).toBe(429);
      // Past twice the limit beacons are refused too: a browser key is public, and its room is not unlimited.
      const refused = await beacon('Too many');
      expect(refused.statusCode).toBe(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect((await stored(ns, 'site')).map((message) => message.event)).toEqual(['E1', 'E2', 'Left']);
      // A wrong key's beacon is counted against the address and refused, as anywhere else.
      const guesses = [];
      for (let i = 0; i < 3; i += 1) {
        guesses.push(
          (
            await send(ingest, `/beacon/v1/batch?writeKey=guess-${i}`, {
              batch: [{ type: 'track', userId: 'u', event: 'E' }],
            })
          ).statusCode,
        );
      }
      expect(guesses).toEqual([401, 401, 429]);
    } finally {
      await ingest.close();
    }
  });

  it("give Jitsu's messages a valid key's beacon room: its SDK never sends one again", async () => {
    const ns = randomName('trk');
    const ingest = await rateLimitedIngest(2, { WRITE_KEYS: 'jitsu-id-01:secret:site', REDIS_NAMESPACE: ns });
    const jitsu = (event: string, key = 'jitsu-id-01:secret') =>
      send(
        ingest,
        '/api/s/track',
        { anonymousId: 'a', event },
        { 'content-type': 'application/json', 'x-write-key': key },
      );
    try {
      const statuses = [];
      for (const event of ['J1', 'J2', 'J3', 'J4', 'J5']) statuses.push((await jitsu(event)).statusCode);
      // Twice the limit's room; past it, refused too (a browser key is public).
      expect(statuses).toEqual([200, 200, 200, 200, 429]);
      expect((await stored(ns, 'site')).map((message) => message.event)).toEqual(['J1', 'J2', 'J3', 'J4']);
      // A wrong key's are counted against the address, as anywhere else.
      const guesses = [];
      for (let i = 0; i < 3; i += 1) guesses.push((await jitsu('E', `jitsu-id-01:guess-${i}`)).statusCode);
      expect(guesses).toEqual([401, 401, 429]);
    } finally {
      await ingest.close();
    }
  });

  it("answer a beacon with the X-RateLimit headers of its bucket (twice the limit's room)", async () => {
    const ingest = await rateLimitedIngest(2, { WRITE_KEYS: 'known-key-0001:site' });
    try {
      const answer = await send(ingest, '/beacon/v1/batch?writeKey=known-key-0001', {
        batch: [{ type: 'track', userId: 'u', event: 'B' }],
      });
      expect(answer.statusCode).toBe(200);
      expect(answer.headers).toMatchObject({ 'x-ratelimit-limit': '4', 'x-ratelimit-remaining': '3' });
      expect(Number(answer.headers['x-ratelimit-reset'])).toBeGreaterThan(0);
    } finally {
      await ingest.close();
    }
  });

  it('count a beacon with its key in the header once, as any request with a header key', async () => {
    const ingest = await rateLimitedIngest(3, { WRITE_KEYS: 'known-key-0001:site' });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i += 1) {
        const answer = await send(
          ingest,
          '/beacon/v1/batch',
          { batch: [{ type: 'track', userId: 'u', event: `B${i}` }] },
          { 'content-type': 'application/json', authorization: 'Bearer known-key-0001' },
        );
        statuses.push(answer.statusCode);
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
    } finally {
      await ingest.close();
    }
  });

  it('take a repeated writeKey parameter for no key: 401, never a 500', async () => {
    const ingest = await startTestIngest({
      REDIS_NAMESPACE: randomName('trk'),
      WRITE_KEYS: 'known-key-0001:*',
    });
    try {
      const twice = 'writeKey=known-key-0001&writeKey=known-key-0001';
      const answers = [
        await ingest.app.inject({ url: `/sourceConfig/?${twice}` }),
        await send(ingest, `/v1/track?${twice}`, { userId: 'u', event: 'E' }),
        await send(ingest, `/beacon/v1/batch?${twice}`, {
          batch: [{ type: 'track', userId: 'u', event: 'E' }],
        }),
      ];
      expect(answers.map((answer) => answer.statusCode)).toEqual([401, 401, 401]);
    } finally {
      await ingest.close();
    }
  });
});
