import { describe, expect, it } from '@jest/globals';
import { ingestTestEnv, randomName, SPOOL_MAINS, spawnService, waitFor } from '@spool/testkit';

interface LogLine {
  msg: string;
  level: number;
  code?: string;
  req?: { method: string; url: string };
  res?: { statusCode: number };
}

describe("the ingest's request log at the default level (info)", () => {
  it('says nothing of an accepted request, and one line, with its status and SPOOL_ code, of each refused one', async () => {
    const stream = randomName('log');
    const ingest = await spawnService(
      SPOOL_MAINS.ingest,
      ingestTestEnv({ REDIS_NAMESPACE: randomName('ns'), LOG_LEVEL: 'info' }),
    );
    try {
      await waitFor(
        async () => ((await fetch(`${ingest.url}/readyz`)).status === 200 ? true : undefined),
        20_000,
        'the ingest to be ready',
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
      const statuses = [
        await post(`/v1/streams/${stream}/events`, '{"event":"accepted"}'),
        await post('/v1/track', '{"userId":"u","event":"accepted"}'),
        await post(`/v1/streams/${stream}/events`, '{"event":'),
        await post('/v1/track', '{"userId":"u"}'),
        await post('/v1/no-such-route', '{}'),
        await post('/v1/streams/%zz/events', '{}'),
      ];
      expect(statuses).toEqual([202, 200, 400, 400, 404, 400]);
      await waitFor(
        async () => (ingest.output().split('"msg":"request completed"').length > 4 ? true : undefined),
        10_000,
        () => `the refusals to be logged: ${ingest.output()}`,
      );
    } finally {
      await ingest.stop();
    }
    const lines = ingest
      .output()
      .split('\n')
      .filter((line) => line.includes('"req":'))
      .map((line) => JSON.parse(line) as LogLine);
    expect(
      lines.map(({ msg, level, code, req, res }) => [msg, level, req?.url, res?.statusCode, code]),
    ).toEqual([
      ['request completed', 30, `/v1/streams/${stream}/events`, 400, 'SPOOL_INVALID_JSON'],
      ['request completed', 30, '/v1/track', 400, expect.stringMatching(/^SPOOL_/)],
      ['request completed', 30, '/v1/no-such-route', 404, 'SPOOL_NOT_FOUND'],
      ['request completed', 30, '/v1/streams/%zz/events', 400, 'SPOOL_BAD_REQUEST'],
    ]);
  });
});
