import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ServiceProcess, sendRawHttp, spawnService, testServices, waitFor } from '@spool/testkit';

/**
 * What reaches the ingest over a real socket, where inject() cannot go: chunked bodies, requests
 * that are not valid HTTP, paths Fastify refuses before routing. The process must answer each in
 * Spool's shape, and live on.
 */
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let ingest: ServiceProcess;
let port: number;

beforeAll(async () => {
  ingest = await spawnService(MAIN, { ALLOW_ANONYMOUS_WRITES: 'true', REDIS_URL: testServices().redisUrl });
  port = Number(new URL(ingest.url).port);
});
afterAll(() => ingest.stop());

/** One chunked POST (no Content-Length): Fastify can only count the body as it comes. */
function postChunked(path: string, body: Buffer, headers: Record<string, string>) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: { ...headers, 'transfer-encoding': 'chunked' },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** Raw bytes on a socket, and what came back before it closed. */
function sendRaw(bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.end(bytes));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

/** The head of a native POST of `length` bytes of JSON to `stream`. */
const postHead = (stream: string, length: number) =>
  `POST /v1/streams/${stream}/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

/** The status of each answer on a raw connection, in order. */
const statusesOf = (answer: string) =>
  [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
const jsonOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));

describe('the ingest over a real socket', () => {
  it.each([
    ['/v1/streams/web/events', 413],
    ['/v1/batch', 400], // the tracking API's refusal for size, as Segment's
  ])(
    'refuses a chunked gzip body larger as sent than inflated (%s: %d), and lives on',
    async (path, status) => {
      // Stored blocks (level 0): the bytes as sent pass the limit before the inflated ones do, so
      // Fastify answers first and the inflating stream's own error comes after: it once ended the process.
      const body = gzipSync(`[${'{},'.repeat(700_000)}{}]`, { level: 0 });
      const answer = await postChunked(path, body, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      });
      expect(answer.status).toBe(status);
      expect(JSON.parse(answer.body)).toMatchObject({ code: 'SPOOL_BODY_TOO_LARGE' });
      expect((await fetch(`${ingest.url}/healthz`)).status).toBe(200);
    },
  );

  it.each([
    [
      'a Content-Length longer than the body',
      'POST /v1/streams/web/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{}',
      400,
    ],
    [
      'a header name with a space',
      'POST /v1/streams/web/events HTTP/1.1\r\nHost: x\r\nBad Header: x\r\nContent-Length: 2\r\n\r\n{}',
      400,
    ],
    [
      'both Content-Length and chunked',
      'POST /v1/streams/web/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
      400,
    ],
    ['20 KB of headers', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ])(
    'answers %s with SPOOL_BAD_REQUEST, a request id, the CORS headers, and a closed connection',
    async (_name, bytes, status) => {
      const answer = await sendRaw(bytes);
      expect(answer.startsWith(`HTTP/1.1 ${status} `)).toBe(true);
      expect(answer).toMatch(/\r\nX-Request-Id: [0-9a-f-]{36}\r\n/i);
      // A page can read it, as any other answer.
      expect(answer).toMatch(/\r\nAccess-Control-Allow-Origin: \*\r\n/i);
      expect(answer).toMatch(/\r\nAccess-Control-Expose-Headers: [^\r]*X-Request-Id/i);
      expect(answer).toMatch(/\r\nConnection: close\r\n/i);
      expect(answer).toMatch(/\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
      expect(jsonOf(answer)).toMatchObject({ statusCode: status, code: 'SPOOL_BAD_REQUEST' });
      expect((await fetch(`${ingest.url}/healthz`)).status).toBe(200);
    },
  );

  it.each([
    [
      'a chunked body sent as HTTP/1.0',
      'HTTP/1.0',
      'Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n',
    ],
    ['two Host headers', 'HTTP/1.1', 'Host: other.example\r\nTransfer-Encoding: chunked\r\n'],
  ])(
    'refuses %s, which a proxy in front may frame or route otherwise, stores nothing and closes',
    async (_case, version, headers) => {
      const stream = `ambiguous-${process.pid}-${Date.now()}`;
      const body = JSON.stringify({ event: 'e', messageId: `${stream}-1` });
      const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      const sent = await sendRawHttp(
        ingest.url,
        `POST /v1/streams/${stream}/events ${version}\r\nHost: x\r\nContent-Type: application/json\r\n${headers}\r\n${chunked}` +
          'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
      );
      await sent.closed;
      expect(statusesOf(sent.answer())).toEqual([400]);
      expect(sent.answer()).toMatch(/\r\nconnection: close\r\n/i);
      expect(jsonOf(sent.answer())).toMatchObject({ code: 'SPOOL_BAD_REQUEST' });
      const again = await fetch(`${ingest.url}/v1/streams/${stream}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(await again.json()).toMatchObject({ accepted: 1, duplicates: 0 });
    },
  );

  it('answers a whole request before the 400 of the bytes that follow it, and stores it once', async () => {
    const stream = `pipelined-${process.pid}-${Date.now()}`;
    const event = '{"event":"a","messageId":"pipelined-1"}';
    // Node read the garbage while the first request waited on Redis: the raw 400 went out in its
    // place, and its 202 never did (its event stored, or not, by a race).
    // Sent without closing its side, as a client that waits for its answers does.
    const sent = await sendRawHttp(
      ingest.url,
      `POST /v1/streams/${stream}/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${event.length}\r\n\r\n${event}GARBAGE\r\n\r\n`,
    );
    await sent.closed;
    const answer = sent.answer();
    const statuses = statusesOf(answer);
    expect(statuses).toEqual([202, 400]);
    expect(answer).toContain('"accepted":1');
    const again = await fetch(`${ingest.url}/v1/streams/${stream}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: event,
    });
    expect(await again.json()).toMatchObject({ accepted: 0, duplicates: 1 });
    expect((await fetch(`${ingest.url}/healthz`)).status).toBe(200);
  });

  it.each([
    ['/v1/streams/web/events', 413],
    ['/v1/batch', 400],
  ])(
    'answers a body too large from its Content-Length (%s: %d) to a client still sending it, and lives on',
    async (path, status) => {
      // Node closed the connection as the answer went, with the body still coming: the kernel reset
      // it, and fetch saw EPIPE, not the answer (a review's run: nearly every time from 2 MiB), so an
      // SDK sent the body again.
      const body = Buffer.alloc(4 * 1024 * 1024, 0x20);
      body[0] = 0x5b;
      body[body.length - 1] = 0x5d;
      for (let i = 0; i < 3; i++) {
        const answer = await fetch(`${ingest.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        expect(answer.status).toBe(status);
        expect(answer.headers.get('connection')).toBe('close');
        await answer.text();
      }
      expect((await fetch(`${ingest.url}/healthz`)).status).toBe(200);
    },
  );

  it('closes the connection of a body refused unread 2 s after its answer, though the client keeps sending', async () => {
    // Half open: it keeps its side, and sending, once the answer's end comes.
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (chunk) => {
      answer += chunk;
    });
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
    socket.write(
      'POST /v1/streams/web/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        `Content-Length: ${8 * 1024 * 1024}\r\n\r\n[`,
    );
    const trickle = setInterval(() => socket.write(' '), 100);
    try {
      await waitFor(async () => (answer.includes('\r\n\r\n') ? true : undefined), 5_000, 'the answer');
      const answeredAt = performance.now();
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      // Not for the request timeout (30 s) the trickle would otherwise have.
      expect((await closed) - answeredAt).toBeLessThan(20_000);
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
  });

  it.each([
    ['a media type it does not take', 'application/x-www-form-urlencoded', ''],
    ['an encoding it does not take', 'application/json', 'Content-Encoding: br\r\n'],
  ])(
    'keeps a connection whose 100 KB body it refused for %s, and answers its next request',
    async (_case, type, encoding) => {
      // Its body piped to the in-flight count before the 415, and left there: the connection's next
      // request waited for the request timeout, and got its 408 (a review's run).
      const sent = await sendRawHttp(
        ingest.url,
        `POST /v1/streams/web/events HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\n${encoding}` +
          `Content-Length: 100000\r\n\r\n${' '.repeat(100_000)}` +
          'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      await waitFor(
        async () => (/HTTP\/1\.1 200 /.test(sent.answer()) ? true : undefined),
        10_000,
        'the next answer',
      );
      const statuses = statusesOf(sent.answer());
      expect(statuses).toEqual([415, 200]);
    },
  );

  it.each([
    ['a body that does not parse, read whole', (stream: string) => `${postHead(stream, 9)}{"event":`],
    // Refused from its head, its body read and dropped after the answer: the request behind it
    // came after the answer was written, and was handled (a review's run).
    [
      'a body too large by its Content-Length',
      (stream: string) => postHead(stream, 2 * 1024 * 1024) + ' '.repeat(2 * 1024 * 1024),
    ],
  ])(
    'handles no request pipelined behind an answer that closes the connection (%s): none is stored unanswered',
    async (_case, refused) => {
      const stream = `pipelined-close-${process.pid}-${Date.now()}`;
      const good = JSON.stringify([
        { event: 'a', messageId: `${stream}-1` },
        { event: 'b', messageId: `${stream}-2` },
      ]);
      // Node handed over both; the refusal closed the connection, and the batch behind it was
      // stored with no answer: its client sent it again, and events without ids were stored twice.
      const sent = await sendRawHttp(ingest.url, `${refused(stream)}${postHead(stream, good.length)}${good}`);
      await sent.closed;
      const statuses = statusesOf(sent.answer());
      expect(statuses).toHaveLength(1);
      expect(sent.answer()).toMatch(/\r\nConnection: close\r\n/i);
      // The client sends it again, as it got no answer: stored now, once.
      const again = await fetch(`${ingest.url}/v1/streams/${stream}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: good,
      });
      expect(await again.json()).toMatchObject({ accepted: 2, duplicates: 0 });
    },
  );

  it.each([
    ['Connection: close', 'HTTP/1.1', 'Connection: close\r\n'],
    ["HTTP/1.0's default", 'HTTP/1.0', ''],
  ])(
    'answers nothing to a request sent after one that closes the connection (%s): its client sends it again',
    async (_case, version, connection) => {
      const stream = `after-close-${process.pid}-${Date.now()}-${version.slice(-1)}`;
      const body = (n: number) => JSON.stringify({ event: 'e', messageId: `${stream}-${n}` });
      const request = (n: number, head: string) =>
        `POST /v1/streams/${stream}/events ${head}\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `${connection}Content-Length: ${body(n).length}\r\n\r\n${body(n)}`;
      const sent = await sendRawHttp(ingest.url, `${request(1, version)}${request(2, 'HTTP/1.1')}`);
      await sent.closed;
      // The first answered; the second neither answered nor stored (a 400 said not to send it again).
      const statuses = statusesOf(sent.answer());
      expect(statuses).toEqual([202]);
      const again = await fetch(`${ingest.url}/v1/streams/${stream}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body(2),
      });
      expect(await again.json()).toMatchObject({ accepted: 1, duplicates: 0 });
    },
  );

  it('answers requests pipelined on one connection in order, each handled once', async () => {
    const stream = `pipelined-order-${process.pid}-${Date.now()}`;
    const requests = [1, 2, 3].map((n) => {
      const body = JSON.stringify({ event: 'e', messageId: `${stream}-${n}` });
      return (
        `POST /v1/streams/${stream}/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n${body}`
      );
    });
    const sent = await sendRawHttp(
      ingest.url,
      `${requests.join('')}GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    await sent.closed;
    const statuses = statusesOf(sent.answer());
    expect(statuses).toEqual([202, 202, 202, 200]);
    expect(sent.answer().match(/"accepted":1/g)).toHaveLength(3);
  });

  it.each([
    [`/v1/streams/${'a'.repeat(101)}/events`, 'SPOOL_INVALID_STREAM'],
    ['/v1/streams/%zz/events', 'SPOOL_BAD_REQUEST'],
    ['/v1/projects/%zz/settings', 'SPOOL_BAD_REQUEST'],
  ])('answers a path Fastify refuses before routing (%s) as a route would: %s', async (path, code) => {
    const response = await fetch(`${ingest.url}${path}`, {
      method: path.endsWith('/events') ? 'POST' : 'GET',
      headers: { 'content-type': 'application/json', origin: 'https://shop.example' },
      body: path.endsWith('/events') ? '{}' : undefined,
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // A page can read it, as any other answer, credentials or not.
    expect(response.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
    const answer = (await response.json()) as { code: string; message: string };
    expect(answer.code).toBe(code);
    // A write key in a path is never repeated.
    expect(answer.message).not.toContain('kkkk');
  });

  it('answers an OPTIONS that is no preflight with 204, as it answers a preflight', async () => {
    const response = await fetch(`${ingest.url}/v1/streams/web/events`, { method: 'OPTIONS' });
    expect(response.status).toBe(204);
  });
});
