import { describe, expect, it } from '@jest/globals';
import {
  ingestTestEnv,
  randomName,
  SPOOL_MAINS,
  sendRawHttp,
  spawnService,
  untilReady,
} from '@spool/testkit';

interface LogLine {
  msg: string;
  level: number;
  path?: string;
  statusCode?: number;
  code?: string;
  repeatedSinceLastLine?: number;
  reason?: string;
  reqId?: string;
}

describe("the ingest's request log at the default level (info)", () => {
  it('says nothing of an accepted request, and tells refusals once per status and code, then how many came, with their path but no query', async () => {
    const stream = randomName('log');
    const ingest = await spawnService(
      SPOOL_MAINS.ingest,
      ingestTestEnv({ REDIS_NAMESPACE: randomName('ns'), LOG_LEVEL: 'info' }),
    );
    const post = async (path: string, body: string) => {
      const answer = await fetch(`${ingest.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      await answer.text();
      return answer.status;
    };
    let statuses: number[];
    try {
      await untilReady(ingest);
      statuses = [
        await post(`/v1/streams/${stream}/events`, '{"event":"accepted"}'),
        await post('/v1/track', '{"userId":"u","event":"accepted"}'),
        await post(`/v1/streams/${stream}/events?email=jane@example.com`, '{"event":'),
        await post(`/v1/streams/${stream}/events`, '{"event":'),
        await post(`/v1/streams/${stream}/events`, '{"event":'),
        await post('/v1/track', '{"userId":"u"}'),
        await post('/v1/pixel/track?data=eyJlbWFpbCI6ImphbmVAZXhhbXBsZS5jb20ifQ', '{}'),
        await post('/v1/streams/%zz/events', '{}'),
      ];
    } finally {
      // The repeated lines' windows are told at the stop, before `stopped`.
      await ingest.stop();
    }
    expect(statuses).toEqual([202, 200, 400, 400, 400, 400, 404, 400]);
    const lines = ingest
      .output()
      .split('\n')
      .filter((line) => line.includes('"msg":"request') || line.includes('"msg":"requests'))
      .map((line) => JSON.parse(line) as LogLine);
    expect(
      lines.map(({ msg, level, path, statusCode, code, repeatedSinceLastLine }) => [
        msg,
        level,
        path,
        statusCode,
        code,
        repeatedSinceLastLine,
      ]),
    ).toEqual([
      ['requests refused', 30, `/v1/streams/${stream}/events`, 400, 'SPOOL_INVALID_JSON', undefined],
      ['requests refused', 30, '/v1/track', 400, 'SPOOL_INVALID_EVENT', undefined],
      ['requests refused', 30, '/v1/pixel/track', 404, 'SPOOL_NOT_FOUND', undefined],
      ['requests refused', 30, '/v1/streams/%zz/events', 400, 'SPOOL_BAD_REQUEST', undefined],
      // The two malformed bodies after the first, told as one line at the stop.
      ['requests refused', 30, `/v1/streams/${stream}/events`, 400, 'SPOOL_INVALID_JSON', 1],
    ]);
    // A query may hold anything: an event (Segment's pixel), an address.
    expect(ingest.output()).not.toMatch(/jane@example\.com|eyJlbWFpbCI6/);
  });

  it("tells the requests Node refused before reading them, and logs no path's fragment nor an absolute URL's credentials", async () => {
    const ingest = await spawnService(
      SPOOL_MAINS.ingest,
      ingestTestEnv({ REDIS_NAMESPACE: randomName('ns'), LOG_LEVEL: 'info' }),
    );
    const send = async (text: string) => {
      const connection = await sendRawHttp(ingest.url, text);
      await connection.closed;
      return connection.answer();
    };
    const host = new URL(ingest.url).host;
    const batch = '{"batch":[{"userId":"u","type":"track","event":"e"}]}';
    const post = (target: string, type = 'application/json') =>
      `POST ${target} HTTP/1.1\r\nHost: ${host}\r\n` +
      `Content-Type: ${type}\r\nContent-Length: ${batch.length}\r\nConnection: close\r\n\r\n${batch}`;
    const secret = `${'u'.repeat(170)}:SECRETKEY0123456789abcdefSECRETKEY`;
    let answers: string[];
    try {
      await untilReady(ingest);
      answers = [
        // A header name Node's parser refuses, and headers past its 16 KiB.
        await send(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nBad Header: x\r\n\r\n`),
        await send(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`),
        // Refused (no such route): a fragment may hold an event (a pixel's `#data=`), an
        // absolute URL a key (`http://user:key@…`). The second is told at the stop, as a repeat.
        // The path ends at the first of `#` and `?`, whichever comes first.
        await send(post('/v1/nowhere#data=eyJ1c2VySWQiOiJhbGljZUBleGFtcGxlLmNvbSJ9?page=1')),
        await send(post(`http://${secret}@ingest.example/v1/nowhere`)),
        await send(post('/v1/streams/web/events?data=QUERYDATA#page=1', 'text/csv')),
      ];
    } finally {
      await ingest.stop();
    }
    const statusOf = (answer: string) => Number(answer.slice(9, 12));
    expect(answers.map(statusOf)).toEqual([400, 431, 404, 404, 415]);
    const lines = ingest
      .output()
      .split('\n')
      .filter((line) => line.includes('"msg":"requests refused"'))
      .map((line) => JSON.parse(line) as LogLine);
    const requestIdOf = (answer: string) => /^x-request-id: (\S+)/im.exec(answer)?.[1];
    expect(lines.map(({ statusCode, code, reason, reqId }) => [statusCode, code, reason, reqId])).toEqual([
      [400, 'SPOOL_BAD_REQUEST', expect.stringMatching(/^HPE_/), requestIdOf(answers[0] as string)],
      [431, 'SPOOL_BAD_REQUEST', 'HPE_HEADER_OVERFLOW', requestIdOf(answers[1] as string)],
      [404, 'SPOOL_NOT_FOUND', undefined, expect.any(String)],
      [415, 'SPOOL_UNSUPPORTED_MEDIA_TYPE', undefined, requestIdOf(answers[4] as string)],
      [404, 'SPOOL_NOT_FOUND', undefined, expect.any(String)],
    ]);
    expect(lines[2]?.path).toBe('/v1/nowhere');
    expect(lines[3]?.path).toBe('/v1/streams/web/events');
    expect(lines[4]?.path).toMatch(/^http:\/\/\[redacted\]@ingest\.example/);
    expect(ingest.output()).not.toMatch(/eyJ1c2VySWQi|SECRETKEY|QUERYDATA/);
  });
});
