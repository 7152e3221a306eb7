import { describe, expect, it } from '@jest/globals';
import { ingestTestEnv, randomName, SPOOL_MAINS, spawnService, waitFor } from '@spool/testkit';

interface LogLine {
  msg: string;
  level: number;
  path?: string;
  statusCode?: number;
  code?: string;
  repeatedSinceLastLine?: number;
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
      await waitFor(
        async () => ((await fetch(`${ingest.url}/readyz`)).status === 200 ? true : undefined),
        20_000,
        'the ingest to be ready',
      );
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
});
