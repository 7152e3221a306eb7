import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  addFlushJob,
  FLUSH_QUEUE,
  flushJobId,
  queuePrefix,
  redisNow,
  streamKeys,
  streamRegistryKey,
} from '@spool/shared';
import { createTestRedis, randomName } from '@spool/testkit';
import { startTestIngest, type TestIngest } from '../test/support.js';

const redis = createTestRedis();
let ingest: TestIngest;

beforeAll(async () => {
  ingest = await startTestIngest({
    MAX_EVENT_BYTES: '1KiB',
    MAX_BODY_BYTES: '64KiB',
    FLUSH_THRESHOLD_BYTES: '4KiB',
  });
});
afterAll(async () => {
  await ingest.close();
  await redis.quit();
});

function post(stream: string, body: string | Buffer, headers: Record<string, string> = {}) {
  return ingest.app.inject({
    method: 'POST',
    url: `/v1/streams/${stream}/events`,
    headers: { 'content-type': 'application/json', ...headers },
    payload: body,
  });
}

async function storedLines(stream: string): Promise<Array<Record<string, unknown>>> {
  const buffer = (await redis.get(streamKeys(stream).buf)) ?? '';
  expect(buffer === '' || buffer.endsWith('\n')).toBe(true);
  return buffer
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
}

describe('POST /v1/streams/:stream/events accepts', () => {
  it('one JSON object, stored as one line with receivedAt and a generated messageId', async () => {
    const stream = randomName();
    const before = Date.now();
    const response = await post(stream, JSON.stringify({ event: 'signup', n: 1 }));

    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ accepted: 1, duplicates: 0, rejected: [], rejectedCount: 0 });
    const [line, ...rest] = await storedLines(stream);
    expect(rest).toEqual([]);
    expect(line).toMatchObject({ event: 'signup', n: 1 });
    expect(Date.parse(line?.receivedAt as string)).toBeGreaterThanOrEqual(before - 1);
    expect(line?.receivedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(line?.messageId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('an array of events, keeping a client messageId and overriding a client receivedAt', async () => {
    const stream = randomName();
    const response = await post(
      stream,
      JSON.stringify([
        { a: 1, messageId: 'client-id-1' },
        { b: 2, receivedAt: '1999-01-01T00:00:00Z' },
      ]),
    );

    expect(response.json()).toEqual({ accepted: 2, duplicates: 0, rejected: [], rejectedCount: 0 });
    const [first, second] = await storedLines(stream);
    expect(first).toMatchObject({ a: 1, messageId: 'client-id-1' });
    expect(second?.receivedAt).not.toBe('1999-01-01T00:00:00Z');
    expect(second?.messageId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('NDJSON, ignoring blank lines', async () => {
    const stream = randomName();
    const response = await post(stream, '{"a":1}\n\n  \r\n{"b":2}\r\n', {
      'content-type': 'application/x-ndjson',
    });

    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ accepted: 2, duplicates: 0, rejected: [], rejectedCount: 0 });
    expect((await storedLines(stream)).map((line) => line.a ?? line.b)).toEqual([1, 2]);
  });

  it('integers past 2^53 digit for digit, in JSON and NDJSON bodies; other numbers as JSON reads them', async () => {
    const stream = randomName();
    const json = await post(stream, '[{"id":9007199254740993,"list":[-9223372036854775807,1.50,1E3]}]');
    const ndjson = await post(stream, '{"id":12345678901234567891}\n', {
      'content-type': 'application/x-ndjson',
    });
    expect([json.statusCode, ndjson.statusCode]).toEqual([202, 202]);
    const buffer = (await redis.get(streamKeys(stream).buf)) ?? '';
    const withoutServerFields = (line: string) =>
      line.replace(/^\{"receivedAt":"[^"]*","messageId":"[^"]*",/, '{');
    expect(buffer.split('\n').filter(Boolean).map(withoutServerFields)).toEqual([
      '{"id":9007199254740993,"list":[-9223372036854775807,1.5,1000]}',
      '{"id":12345678901234567891}',
    ]);
  });

  it("names escaped keys as sent, after another client's key ending in a backslash (V8's JSON.parse did not)", async () => {
    const stream = randomName();
    // A first key of its own: V8 misread a key where it had met only the one key before.
    const probe = `"probe-${randomName()}":"x"`;
    const poison = await post(randomName(), `{${probe},"path\\\\":"C:\\\\temp"}`);
    const victims = [
      await post(stream, `{${probe},"path\\u00e9":"e-acute, as Python's json.dumps writes it"}`),
      await post(stream, `{${probe},"path\\"":"a quote"}\n{${probe},"path\\n":"a newline"}\n`, {
        'content-type': 'application/x-ndjson',
      }),
    ];
    expect([poison, ...victims].map((response) => response.statusCode)).toEqual([202, 202, 202]);
    const names = (await storedLines(stream)).map((line) =>
      Object.keys(line).filter((key) => key.startsWith('path')),
    );
    expect(names).toEqual([['pathé'], ['path"'], ['path\n']]);
  });

  it('text/plain as JSON, as navigator.sendBeacon sends it', async () => {
    const stream = randomName();
    const response = await post(stream, '[{"beacon":true}]', { 'content-type': 'text/plain;charset=UTF-8' });
    expect(response.statusCode).toBe(202);
    expect(await storedLines(stream)).toEqual([expect.objectContaining({ beacon: true })]);
  });

  it('a gzip body', async () => {
    const stream = randomName();
    const events = Array.from({ length: 50 }, (_, i) => ({ i, text: 'é😀 '.repeat(5) }));
    const response = await post(stream, gzipSync(JSON.stringify(events)), { 'content-encoding': 'gzip' });
    expect(response.json()).toEqual({ accepted: 50, duplicates: 0, rejected: [], rejectedCount: 0 });
    expect((await storedLines(stream)).map((line) => line.i)).toEqual(events.map((event) => event.i));
  });

  it('a batch with some bad events: stores the good ones and lists each bad one by index, code and reason', async () => {
    const stream = randomName();
    const body = JSON.stringify([{ ok: 1 }, 'text', { big: 'x'.repeat(2000) }, null, { ok: 2 }, [1]]);
    const response = await post(stream, body);

    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({
      accepted: 2,
      duplicates: 0,
      rejectedCount: 4,
      rejected: [
        { index: 1, code: 'SPOOL_INVALID_EVENT', message: 'an event must be a JSON object, not a string' },
        {
          index: 2,
          code: 'SPOOL_EVENT_TOO_LARGE',
          message: expect.stringContaining('over the 1024-byte limit'),
        },
        { index: 3, code: 'SPOOL_INVALID_EVENT', message: 'an event must be a JSON object, not null' },
        { index: 5, code: 'SPOOL_INVALID_EVENT', message: 'an event must be a JSON object, not an array' },
      ],
    });
    expect((await storedLines(stream)).map((line) => line.ok)).toEqual([1, 2]);
    expect(await redis.hmget(streamKeys(stream).stats, 'accepted', 'rejected')).toEqual(['2', '4']);
    // A batch with none valid is counted too, now that the stream has counters.
    await post(stream, '[1, "x"]');
    expect(await redis.hget(streamKeys(stream).stats, 'rejected')).toBe('6');
  });

  it('an NDJSON batch with an unparseable line: the other lines are stored', async () => {
    const stream = randomName();
    const response = await post(stream, '{"a":1}\n{"b":\n{"c":3}\n', {
      'content-type': 'application/x-ndjson',
    });
    expect(response.json()).toEqual({
      accepted: 2,
      duplicates: 0,
      rejectedCount: 1,
      rejected: [
        { index: 1, code: 'SPOOL_INVALID_JSON', message: expect.stringContaining('line is not valid JSON') },
      ],
    });
    expect(await storedLines(stream)).toHaveLength(2);
  });
});

describe('POST /v1/streams/:stream/events refuses, appending nothing,', () => {
  const cases: Array<[string, () => Promise<{ statusCode: number; json(): unknown }>, number, string]> = [];
  const stream = randomName();
  const add = (name: string, request: () => ReturnType<typeof post>, status: number, code: string) =>
    cases.push([name, request, status, code]);

  add('malformed JSON', () => post(stream, '{"a":'), 400, 'SPOOL_INVALID_JSON');
  add('an empty array', () => post(stream, '[]'), 400, 'SPOOL_EMPTY_BATCH');
  add('an empty body', () => post(stream, ''), 400, 'SPOOL_EMPTY_BATCH');
  add(
    'NDJSON of blank lines',
    () => post(stream, '\n\n', { 'content-type': 'application/x-ndjson' }),
    400,
    'SPOOL_EMPTY_BATCH',
  );
  add('a bad stream name', () => post('Not_Valid!', '{}'), 400, 'SPOOL_INVALID_STREAM');
  add('a stream name over 64 characters', () => post('a'.repeat(65), '{}'), 400, 'SPOOL_INVALID_STREAM');
  // Quoted in the answer up to 80 characters: the 80th is half an emoji, written as U+FFFD.
  add(
    'a stream name of emoji',
    () => post(`a${'%F0%9F%98%80'.repeat(40)}`, '{}'),
    400,
    'SPOOL_INVALID_STREAM',
  );
  add('a batch with no valid event', () => post(stream, '[1, "x"]'), 400, 'SPOOL_NO_VALID_EVENTS');
  add('a single event that is not an object', () => post(stream, '"hello"'), 400, 'SPOOL_INVALID_EVENT');
  add(
    'a single event over MAX_EVENT_BYTES',
    () => post(stream, JSON.stringify({ x: 'y'.repeat(2000) })),
    413,
    'SPOOL_EVENT_TOO_LARGE',
  );
  add(
    'a body over MAX_BODY_BYTES',
    () => post(stream, JSON.stringify(Array.from({ length: 1000 }, () => ({ x: 'y'.repeat(100) })))),
    413,
    'SPOOL_BODY_TOO_LARGE',
  );
  add(
    'a gzip body over MAX_BODY_BYTES once decompressed',
    () =>
      post(stream, gzipSync(JSON.stringify([{ x: ' '.repeat(200_000) }])), { 'content-encoding': 'gzip' }),
    413,
    'SPOOL_BODY_TOO_LARGE',
  );
  add(
    'an unsupported content type',
    () => post(stream, '<e/>', { 'content-type': 'application/xml' }),
    415,
    'SPOOL_UNSUPPORTED_MEDIA_TYPE',
  );
  add(
    'an unsupported content encoding',
    () => post(stream, '{}', { 'content-encoding': 'br' }),
    415,
    'SPOOL_UNSUPPORTED_ENCODING',
  );
  add(
    'a corrupt gzip body',
    () => post(stream, Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' }),
    400,
    'SPOOL_BAD_GZIP',
  );

  it.each(cases)('%s', async (_name, request, status, code) => {
    const response = await request();
    expect(response.statusCode).toBe(status);
    expect(response.json()).toMatchObject({ statusCode: status, code, message: expect.any(String) });
    // Text a strict JSON reader takes: no lone surrogate quoted from the request.
    expect((response.json() as { message: string }).message.isWellFormed()).toBe(true);
    expect(await redis.exists(streamKeys(stream).buf, 'spool:{not_valid!}:buf')).toBe(0);
  });

  it('creates no key for a stream that never stored an event, however many bad events it gets', async () => {
    for (const [, request] of cases) await request();
    expect(await redis.exists(streamKeys(stream).stats, streamKeys(stream).buf)).toBe(0);
  });

  it('a batch with no valid event, naming the first bad event and why', async () => {
    const response = await post(randomName(), '[1, "x"]');
    expect(response.json()).toMatchObject({
      message: 'No event in the batch is valid (event 0: an event must be a JSON object, not a number)',
    });
  });
});

describe('write keys', () => {
  let secured: TestIngest;
  beforeAll(async () => {
    secured = await startTestIngest({ WRITE_KEYS: 'web-key-0001:web,shop;admin-key-0002:*' });
  });
  afterAll(() => secured.close());

  const send = (stream: string, authorization?: string) =>
    secured.app.inject({
      method: 'POST',
      url: `/v1/streams/${stream}/events`,
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      payload: '{"e":1}',
    });
  const basic = (user: string, password = '') =>
    `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  it('refuses a request without a key with 401', async () => {
    const response = await send('web');
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: 'SPOOL_UNAUTHORIZED' });
  });

  it('refuses a wrong key with 401', async () => {
    for (const authorization of ['Bearer web-key-0002', basic('nope'), 'Token web-key-0001', 'Bearer ']) {
      expect((await send('web', authorization)).statusCode).toBe(401);
    }
    // In the words every route uses for a key that is none of WRITE_KEYS (auth.ts says why).
    expect((await send('web', 'Bearer web-key-0002')).json().message).toBe('Invalid write key');
  });

  it('refuses a key on a stream it may not write with 403', async () => {
    const response = await send('ios', 'Bearer web-key-0001');
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ code: 'SPOOL_FORBIDDEN' });
  });

  it('accepts a Bearer key and a Basic key given as the user name', async () => {
    expect((await send('web', 'Bearer web-key-0001')).statusCode).toBe(202);
    expect((await send('web', basic('web-key-0001'))).statusCode).toBe(202);
    expect((await send(randomName(), `bearer  admin-key-0002`)).statusCode).toBe(202);
  });
});

describe('backpressure', () => {
  it('answers 503 with Retry-After once the buffer is at MAX_BUFFER_BYTES, and appends nothing', async () => {
    // The smallest buffer these settings allow: the threshold and two bodies of the largest size.
    const small = await startTestIngest({
      FLUSH_THRESHOLD_BYTES: '1KiB',
      MAX_BUFFER_BYTES: '3KiB',
      MAX_BODY_BYTES: '1KiB',
      MAX_EVENT_BYTES: '1KiB',
    });
    try {
      const stream = randomName();
      const event = JSON.stringify({ pad: 'x'.repeat(380) });
      const answers: number[] = [];
      for (let i = 0; i < 12; i += 1) {
        const response = await small.app.inject({
          method: 'POST',
          url: `/v1/streams/${stream}/events`,
          headers: { 'content-type': 'application/json' },
          payload: event,
        });
        answers.push(response.statusCode);
        if (response.statusCode === 503) {
          expect(response.headers['retry-after']).toBe('5');
          expect(response.json()).toMatchObject({ code: 'SPOOL_BUFFER_FULL' });
        }
      }
      const accepted = answers.filter((status) => status === 202).length;
      expect(accepted).toBeGreaterThan(0);
      expect(answers).toContain(503);
      expect(answers.slice(accepted).every((status) => status === 503)).toBe(true);
      const length = await redis.strlen(streamKeys(stream).buf);
      expect(length).toBeLessThanOrEqual(3072);
      expect((await redis.get(streamKeys(stream).buf))?.split('\n').length).toBe(accepted + 1);
    } finally {
      await small.close();
    }
  });
});

describe('group commit under backpressure', () => {
  const EIGHT_KIB_BUFFER = {
    FLUSH_THRESHOLD_BYTES: '4KiB',
    MAX_BUFFER_BYTES: '8KiB',
    MAX_BODY_BYTES: '2KiB',
    MAX_EVENT_BYTES: '2KiB',
  };

  it('a group too big for the buffer falls back to its requests one by one: those that fit are accepted', async () => {
    const small = await startTestIngest(EIGHT_KIB_BUFFER);
    try {
      const stream = randomName();
      const event = JSON.stringify({ pad: 'x'.repeat(900) });
      // Sent together, they share one group of about 10 KiB: more than the buffer may hold.
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          small.app.inject({
            method: 'POST',
            url: `/v1/streams/${stream}/events`,
            headers: { 'content-type': 'application/json' },
            payload: event,
          }),
        ),
      );
      const accepted = answers.filter((answer) => answer.statusCode === 202).length;
      expect(accepted).toBeGreaterThanOrEqual(7);
      expect(answers.filter((answer) => answer.statusCode === 503)).toHaveLength(10 - accepted);
      expect(await storedLines(stream)).toHaveLength(accepted);
    } finally {
      await small.close();
    }
  });

  it('a group of two that does not fit tries each: the one that fits is accepted', async () => {
    const small = await startTestIngest(EIGHT_KIB_BUFFER);
    try {
      const stream = randomName();
      const post = (pad: number) =>
        small.app.inject({
          method: 'POST',
          url: `/v1/streams/${stream}/events`,
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({ pad: 'x'.repeat(pad) }),
        });
      const held = async () => redis.strlen(streamKeys(stream).buf);
      // Filled to within 1,500 bytes of the maximum; each of the two requests takes about 1,000.
      while ((await held()) < 8192 - 1_500 - 1_000) expect((await post(900)).statusCode).toBe(202);
      const room = 8192 - (await held());
      const answers = await Promise.all([post(room - 700), post(room - 700)]);
      expect(answers.map((answer) => answer.statusCode).sort()).toEqual([202, 503]);
    } finally {
      await small.close();
    }
  });
});

describe('flush jobs', () => {
  it('the append that crosses FLUSH_THRESHOLD_BYTES adds the job <stream>@<gen>, and only that one', async () => {
    const stream = randomName();
    const event = JSON.stringify({ pad: 'x'.repeat(900) });
    for (let i = 0; i < 10; i += 1) expect((await post(stream, event)).statusCode).toBe(202);

    const job = await ingest.queue.getJob(flushJobId(stream, 0));
    expect(job?.data).toEqual({ stream, gen: 0 });
    expect(job?.name).toBe('flush');
    // To the front of the queue, before the time-aged flushes of quiet streams (addFlushJob).
    expect(job?.opts.lifo).toBe(true);
    const jobKeys = await redis.keys(`${queuePrefix()}:${FLUSH_QUEUE}:${stream}@*`);
    expect(jobKeys).toEqual([`${queuePrefix()}:${FLUSH_QUEUE}:${flushJobId(stream, 0)}`]);
    expect(await redis.zscore(streamRegistryKey(), stream)).not.toBeNull();
  });

  it("dates the job on Redis's clock, as the sweep does: an ingest host an hour behind does not age it an hour", async () => {
    const stream = randomName();
    const event = JSON.stringify({ pad: 'x'.repeat(900) });
    const hostNow = Date.now;
    const behind = jest.spyOn(Date, 'now').mockImplementation(() => hostNow.call(Date) - 3_600_000);
    try {
      for (let i = 0; i < 10; i += 1) expect((await post(stream, event)).statusCode).toBe(202);
    } finally {
      behind.mockRestore();
    }
    const job = await ingest.queue.getJob(flushJobId(stream, 0));
    // BullMQ dates a job by its adder's clock unless told (the status page's oldest wait reads it).
    expect(Math.abs((await redisNow(redis)) - (job?.timestamp ?? 0))).toBeLessThan(60_000);
  });

  it('moves the job to the front when the sweep had queued the generation as time-aged', async () => {
    const [stream, quiet] = [randomName(), randomName('quiet')];
    // The sweep found a quiet stream's buffer old, then this one's: both time-aged, in that order.
    await addFlushJob(ingest.queue, quiet, 0);
    await addFlushJob(ingest.queue, stream, 0);
    const next = async () => (await ingest.queue.getJobs(['waiting'], 0, 0, true))[0]?.id;
    const event = JSON.stringify({ pad: 'x'.repeat(900) });
    for (let i = 0; i < 10; i += 1) expect((await post(stream, event)).statusCode).toBe(202);
    expect(await next()).toBe(flushJobId(stream, 0));
    expect((await ingest.queue.getJob(flushJobId(stream, 0)))?.data).toEqual({
      stream,
      gen: 0,
      hurried: true,
    });
  });
});

describe('CORS', () => {
  it('answers a browser preflight for the events route', async () => {
    const response = await ingest.app.inject({
      method: 'OPTIONS',
      url: '/v1/streams/web/events',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization',
      },
    });
    expect(response.statusCode).toBe(204);
    // The page's own origin, with credentials allowed: a browser refuses `*` to a credentialed request.
    expect(response.headers['access-control-allow-origin']).toBe('https://shop.example');
    expect(response.headers['access-control-allow-credentials']).toBe('true');
    expect(response.headers.vary).toContain('Origin');
    expect(String(response.headers['access-control-allow-headers']).toLowerCase()).toContain('authorization');
    // GET too: the SDKs' settings request carries an Authorization header, so it is preflighted.
    expect(response.headers['access-control-allow-methods']).toBe('GET, POST');
    // Cached a day: a page sends its preflight once, not before every batch.
    expect(response.headers['access-control-max-age']).toBe('86400');
  });

  it("lets no page read /metrics, /readyz or /healthz (the streams' names and traffic), where the events routes are read by any", async () => {
    for (const url of ['/metrics', '/readyz', '/healthz']) {
      const response = await ingest.app.inject({ url, headers: { origin: 'https://shop.example' } });
      expect({ url, status: response.statusCode }).toEqual({ url, status: 200 });
      expect({ url, allowed: response.headers['access-control-allow-origin'] }).toEqual({
        url,
        allowed: undefined,
      });
    }
  });
});

describe('health and metrics', () => {
  it('serves /healthz, /readyz and Prometheus /metrics', async () => {
    expect((await ingest.app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await ingest.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    const stream = randomName();
    await post(stream, '{"m":1}');
    await post('Not_Valid!', '{}');
    // A batch refused whole (no acceptable event) still counts its events as rejected.
    expect((await post(stream, '[1,2]')).statusCode).toBe(400);
    const metrics = await ingest.app.inject({ url: '/metrics' });
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toContain(`spool_ingest_events_total{stream="${stream}",outcome="accepted"} 1`);
    expect(metrics.body).toContain(`spool_ingest_events_total{stream="${stream}",outcome="rejected"} 2`);
    expect(metrics.body).toContain('spool_ingest_append_duration_seconds_bucket');
    expect(metrics.body).toMatch(/spool_ingest_requests_total\{api="native",status="202"\} \d+/);
    // Refused before the body is read, and still counted.
    expect(metrics.body).toMatch(/spool_ingest_requests_total\{api="native",status="400"\} \d+/);
  });

  it("sends a request id with every answer: the client's when it is a plausible id, else a new UUID", async () => {
    const response = await post(randomName(), '{}', { 'x-request-id': 'trace-123' });
    expect(response.headers['x-request-id']).toBe('trace-123');
    // Echoed, logged and kept with refused events in the quarantine: a huge or odd one is replaced.
    for (const hostile of ['x'.repeat(129), 'two words', 'tab\there']) {
      const answer = await post(randomName(), '{}', { 'x-request-id': hostile });
      expect(answer.headers['x-request-id']).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
    }
    expect(
      (await post(randomName(), '{}', { 'x-request-id': 'x'.repeat(128) })).headers['x-request-id'],
    ).toBe('x'.repeat(128));
  });
});
