import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import { createTestRedis, randomName } from '@spool/testkit';
import fc from 'fast-check';
import { startTestIngest, type TestIngest } from '../test/support.js';

const redis = createTestRedis();
let ingest: TestIngest;

beforeAll(async () => {
  ingest = await startTestIngest({ MAX_EVENT_BYTES: '4KiB', MAX_BODY_BYTES: '256KiB' });
});
afterAll(async () => {
  await ingest.close();
  await redis.quit();
});

function post(stream: string, payload: string | Buffer, headers: Record<string, string> = {}) {
  return ingest.app.inject({
    method: 'POST',
    url: `/v1/streams/${stream}/events`,
    headers: { 'content-type': 'application/json', ...headers },
    payload,
  });
}

const buffered = async (stream: string) => (await redis.get(streamKeys(stream).buf)) ?? '';

describe('hostile requests get their documented answer and append nothing', () => {
  const cases: Array<[string, string | Buffer, Record<string, string>, number, string]> = [
    ['truncated JSON', '[{"a":1},{"b":', {}, 400, 'SPOOL_INVALID_JSON'],
    ['a lone bracket', '[', {}, 400, 'SPOOL_INVALID_JSON'],
    ['JSON with trailing garbage', '{"a":1} x', {}, 400, 'SPOOL_INVALID_JSON'],
    ['NaN', '{"a":NaN}', {}, 400, 'SPOOL_INVALID_JSON'],
    [
      'invalid UTF-8',
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      {},
      400,
      'SPOOL_INVALID_UTF8',
    ],
    [
      'an overlong UTF-8 encoding',
      Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]),
      {},
      400,
      'SPOOL_INVALID_UTF8',
    ],
    ['a single __proto__ event', '{"__proto__":{"polluted":true}}', {}, 400, 'SPOOL_INVALID_EVENT'],
    ['a nested __proto__ key', '{"a":{"b":[{"__proto__":{}}]}}', {}, 400, 'SPOOL_INVALID_EVENT'],
    [
      'constructor.prototype',
      '{"constructor":{"prototype":{"polluted":true}}}',
      {},
      400,
      'SPOOL_INVALID_EVENT',
    ],
    [
      '100,000 levels of nesting',
      `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
      {},
      400,
      'SPOOL_INVALID_EVENT',
    ],
    // JSON.parse reads it as Infinity, which would be stored as null.
    ['a number past a double', '{"big":1e400}', {}, 400, 'SPOOL_INVALID_EVENT'],
    ['a body of no-break spaces', '\u00a0\u00a0', {}, 400, 'SPOOL_INVALID_JSON'],
    [
      'a truncated gzip stream',
      gzipSync('[{"a":1}]').subarray(0, 12),
      { 'content-encoding': 'gzip' },
      400,
      'SPOOL_BAD_GZIP',
    ],
    ['gzip claimed, plain sent', '{"a":1}', { 'content-encoding': 'gzip' }, 400, 'SPOOL_BAD_GZIP'],
    // zlib took a 0x00 after a member for padding and dropped the rest unread: the first
    // member's events were stored under a 202.
    [
      'bytes after a gzip member that start with 0x00',
      Buffer.concat([gzipSync('[{"a":1}]'), Buffer.from('\x00GARBAGE', 'latin1')]),
      { 'content-encoding': 'gzip' },
      400,
      'SPOOL_BAD_GZIP',
    ],
    [
      'a second gzip member whose first byte was damaged to 0x00',
      Buffer.concat([gzipSync('{"a":1}\n'), Buffer.from([0]), gzipSync('{"b":2}\n').subarray(1)]),
      { 'content-encoding': 'gzip', 'content-type': 'application/x-ndjson' },
      400,
      'SPOOL_BAD_GZIP',
    ],
    ['deflate', '{"a":1}', { 'content-encoding': 'deflate' }, 415, 'SPOOL_UNSUPPORTED_ENCODING'],
    ['no content type', '{"a":1}', { 'content-type': '' }, 415, 'SPOOL_UNSUPPORTED_MEDIA_TYPE'],
    // Read as UTF-8, UTF-16's bytes were a 400 of invalid JSON; Latin-1 that happens to be valid
    // UTF-8 was stored as other characters.
    [
      'a body declared UTF-16',
      Buffer.from('[{"a":1}]', 'utf16le'),
      { 'content-type': 'application/json; charset=utf-16' },
      415,
      'SPOOL_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a body declared Latin-1',
      Buffer.from('{"name":"Ã©"}', 'latin1'),
      { 'content-type': 'text/plain;charset="ISO-8859-1"' },
      415,
      'SPOOL_UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'multipart form data',
      '--x\r\n',
      { 'content-type': 'multipart/form-data; boundary=x' },
      415,
      'SPOOL_UNSUPPORTED_MEDIA_TYPE',
    ],
  ];

  it.each(cases)('%s', async (_name, payload, headers, status, code) => {
    const stream = randomName();
    const response = await post(stream, payload, headers);
    expect(response.statusCode).toBe(status);
    expect(response.json()).toMatchObject({ statusCode: status, code });
    expect(await buffered(stream)).toBe('');
  });

  it('a body of two whole gzip members is read whole', async () => {
    const stream = randomName();
    const body = Buffer.concat([gzipSync('{"a":1}\n'), gzipSync('{"b":2}\n')]);
    const response = await post(stream, body, {
      'content-encoding': 'gzip',
      'content-type': 'application/x-ndjson',
    });
    expect(response.statusCode).toBe(202);
    expect(response.json()).toMatchObject({ accepted: 2 });
  });

  it('an NDJSON line of a no-break space or a BOM is a bad line, not a blank one', async () => {
    const stream = randomName();
    const body = '{"a":1}\n\u00a0\n\n\ufeff\n{"a":2}\n';
    const response = await post(stream, body, { 'content-type': 'application/x-ndjson' });
    expect(response.statusCode).toBe(202);
    // Indexes count the request's events: blank lines are none.
    expect(response.json()).toMatchObject({
      accepted: 2,
      rejectedCount: 2,
      rejected: [
        { index: 1, code: 'SPOOL_INVALID_JSON' },
        { index: 2, code: 'SPOOL_INVALID_JSON' },
      ],
    });
  });

  it('a request with neither body nor Content-Type is an empty batch (the fuzzer found it answered 500)', async () => {
    const stream = randomName();
    const response = await ingest.app.inject({ method: 'POST', url: `/v1/streams/${stream}/events` });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'SPOOL_EMPTY_BATCH' });
    expect(await buffered(stream)).toBe('');
  });

  it('an unknown path gets a coded 404 (the fuzzer found "." stream names normalised away)', async () => {
    const response = await ingest.app.inject({ method: 'POST', url: '/v1/streams/events' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ statusCode: 404, code: 'SPOOL_NOT_FOUND' });
  });

  it("a HEAD of an unknown path is announced the Content-Length of the GET's 404", async () => {
    const get = await ingest.app.inject({ method: 'GET', url: '/v1/nowhere' });
    const head = await ingest.app.inject({ method: 'HEAD', url: '/v1/nowhere' });
    expect(head.statusCode).toBe(404);
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.body)));
  });

  it('a gzip bomb (50 MB of zeros in about 50 KB) is refused with 413 without inflating it all', async () => {
    const stream = randomName();
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20), { level: 9 });
    expect(bomb.length).toBeLessThan(100 * 1024);
    const rssBefore = process.memoryUsage().rss;
    const response = await post(stream, bomb, { 'content-encoding': 'gzip' });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ code: 'SPOOL_BODY_TOO_LARGE' });
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(40 * 1024 * 1024);
    expect(await buffered(stream)).toBe('');
  });

  it('a chunked gzip body of members that inflate to nothing is refused with 413 once its bytes as sent pass the limit', async () => {
    const stream = randomName();
    // 300 KiB of empty gzip members (20 bytes each), past MAX_BODY_BYTES (256 KiB), without a
    // Content-Length: nothing inflates, so only the bytes as sent can bound it.
    const empty = gzipSync(Buffer.alloc(0));
    const members = Buffer.concat(Array(Math.ceil((300 * 1024) / empty.length)).fill(empty));
    const response = await ingest.app.inject({
      method: 'POST',
      url: `/v1/streams/${stream}/events`,
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: Readable.from([members.subarray(0, 100_000), members.subarray(100_000)]),
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ code: 'SPOOL_BODY_TOO_LARGE' });
    expect(await buffered(stream)).toBe('');
  });

  it('in a batch, only the hostile events are refused', async () => {
    const stream = randomName();
    const body = `[{"ok":1},{"__proto__":{"x":1}},{"deep":${'['.repeat(100)}${']'.repeat(100)}},{"ok":2}]`;
    const response = await post(stream, body);
    expect(response.json()).toEqual({
      accepted: 2,
      duplicates: 0,
      rejectedCount: 2,
      rejected: [
        { index: 1, code: 'SPOOL_FORBIDDEN_KEY', message: 'the key "__proto__" is not allowed in events' },
        { index: 2, code: 'SPOOL_EVENT_TOO_DEEP', message: 'an event may nest at most 64 levels' },
      ],
    });
    expect((await buffered(stream)).trim().split('\n')).toHaveLength(2);
  });
});

describe('any body at all', () => {
  // Arbitrary bytes, arbitrary JSON values and arbitrary NDJSON, in every accepted media type.
  const bodies = fc.oneof(
    fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
    fc.json({ maxDepth: 6 }),
    fc.array(fc.json({ maxDepth: 4 }), { maxLength: 20 }).map((lines) => lines.join('\n')),
    fc.array(fc.object({ maxDepth: 3 }), { maxLength: 20 }).map((events) => JSON.stringify(events)),
  );
  const mediaTypes = fc.constantFrom('application/json', 'application/x-ndjson', 'text/plain');

  it('gets 202 or a 4xx with a code, never a 5xx, and what is stored is exactly the accepted events', async () => {
    await fc.assert(
      fc.asyncProperty(bodies, mediaTypes, fc.boolean(), async (body, mediaType, gzip) => {
        const stream = randomName('fuzz');
        const headers: Record<string, string> = { 'content-type': mediaType };
        if (gzip) headers['content-encoding'] = 'gzip';
        const response = await post(stream, gzip ? gzipSync(body) : body, headers);
        const answer = response.json();
        const stored = await buffered(stream);
        const lines = stored === '' ? [] : stored.slice(0, -1).split('\n');

        expect(response.statusCode === 202 || (response.statusCode >= 400 && response.statusCode < 500)).toBe(
          true,
        );
        if (response.statusCode === 202) {
          expect(lines).toHaveLength(answer.accepted);
          for (const line of lines) expect(typeof JSON.parse(line)).toBe('object');
        } else {
          expect(answer.code).toMatch(/^SPOOL_/);
          expect(lines).toHaveLength(0);
        }
        if (stored !== '')
          await redis.unlink(streamKeys(stream).buf, streamKeys(stream).since, streamKeys(stream).stats);
      }),
      { numRuns: 400 },
    );
  });
});
