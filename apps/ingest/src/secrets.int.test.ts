import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { randomName, spawnService, testServices, untilReady } from '@spool/testkit';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

/** The status of a GET of `target`, sent as is over a socket of its own. */
async function rawGet(base: string, target: string): Promise<number> {
  const { hostname, port } = new URL(base);
  const socket = connect(Number(port), hostname);
  socket.end(`GET ${target} HTTP/1.1\r\nHost: spool.test\r\nConnection: close\r\n\r\n`);
  let answer = '';
  for await (const chunk of socket) answer += chunk;
  return Number(answer.split(' ', 2)[1]);
}

describe('write keys in logs', () => {
  it('never appear, at the most verbose log level: Bearer, Basic, X-Write-Key, in a body or in a query, right or wrong', async () => {
    const good = `good-key-${randomName('k')}`;
    const wrong = `wrong-key-${randomName('k')}`;
    const ingest = await spawnService(MAIN, {
      REDIS_URL: testServices().redisUrl,
      WRITE_KEYS: `${good}:*`,
      LOG_LEVEL: 'trace',
    });
    const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
    const statuses: number[] = [];
    for (const authorization of [`Bearer ${good}`, basic(good), `Bearer ${wrong}`, basic(wrong), 'Bearer']) {
      const response = await fetch(`${ingest.url}/v1/streams/${randomName()}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: '{"event":"x"}',
      });
      statuses.push(response.status);
      await response.text();
    }
    // The tracking API's other places for a key: the body, and the beacon's query.
    for (const key of [good, wrong]) {
      for (const [url, body] of [
        ['/v1/batch', { writeKey: key, batch: [{ type: 'track', userId: 'u', event: 'x' }] }],
        [`/beacon/v1/batch?writeKey=${key}`, { batch: [{ type: 'track', userId: 'u', event: 'x' }] }],
      ] as const) {
        const response = await fetch(`${ingest.url}${url}`, { method: 'POST', body: JSON.stringify(body) });
        statuses.push(response.status);
        await response.text();
      }
    }
    // Jitsu's header.
    for (const key of [good, wrong]) {
      const response = await fetch(`${ingest.url}/api/s/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-write-key': key },
        body: JSON.stringify({ type: 'track', anonymousId: 'a', event: 'x', writeKey: 'good-key:***' }),
      });
      statuses.push(response.status);
      await response.text();
    }
    // And analytics.js's settings, whose path holds the key; RudderStack's source config, its query.
    for (const key of [good, wrong]) {
      // The last, a mistyped path: its 404 names the path, which is logged.
      for (const url of [
        `/v1/projects/${key}/settings`,
        `/sourceConfig/?writeKey=${key}`,
        `/v1/projects/${key}/setings`,
      ]) {
        const response = await fetch(`${ingest.url}${url}`);
        statuses.push(response.status);
        await response.text();
      }
    }
    await ingest.stop();

    expect(statuses).toEqual([
      202, 202, 401, 401, 401, 200, 200, 401, 401, 200, 401, 200, 200, 404, 401, 401, 404,
    ]);
    expect(ingest.output()).toContain('/beacon/v1/batch?writeKey=[redacted]');
    expect(ingest.output()).toContain('/v1/projects/[redacted]/settings');
    const output = ingest.output();
    expect(output).toContain('"msg":"request completed"');
    for (const secret of [good, wrong, basic(good).slice(6), basic(wrong).slice(6)]) {
      expect(output).not.toContain(secret);
    }
  });

  it.each([
    ['info', 'requests refused', 1],
    ['debug', 'incoming request', 10],
  ])(
    'never appear spelled otherwise in a URL the routes still take, right or wrong, at %s (refusals told by path, or every request)',
    async (level, line, atLeast) => {
      const key = `spelled-key-${randomName('k')}`;
      const ingest = await spawnService(MAIN, {
        REDIS_URL: testServices().redisUrl,
        WRITE_KEYS: `${key}:*`,
        LOG_LEVEL: level,
      });
      const batch = JSON.stringify({ batch: [{ type: 'track', userId: 'u', event: 'x' }] });
      const statuses: number[] = [];
      // The right key (answered 200: logged at debug) and a wrong one that starts with it (refused:
      // logged at info too, with its request).
      for (const sent of [key, `${key}-wrong`]) {
        for (const [method, url] of [
          ['GET', `//v1/projects/${sent}/settings`],
          ['GET', `/v1/%70rojects/${sent}/settings`],
          ['GET', `/sourceConfig/?write%4Bey=${sent}`],
          ['POST', `/beacon/v1/batch?write%4Bey=${sent}`],
          ['POST', `/v1/batch?write%4Bey=${sent}`],
        ] as const) {
          const response = await fetch(`${ingest.url}${url}`, {
            method,
            body: method === 'POST' ? batch : undefined,
          });
          statuses.push(response.status);
          await response.text();
        }
        // What fetch never sends: a '#' (the router ends the path there too) and an absolute-form target.
        for (const target of [
          `/sourceConfig#writeKey=${sent}`,
          `http://spool.test/v1/projects/${sent}/settings`,
        ]) {
          statuses.push(await rawGet(ingest.url, target));
        }
      }
      await ingest.stop();
      // The decoded forms authenticate (the router and the query parser decode), so they must be hidden.
      expect(statuses.slice(0, 7).filter((status) => status === 200).length).toBeGreaterThanOrEqual(5);
      expect(statuses.slice(7).filter((status) => status >= 400).length).toBeGreaterThanOrEqual(5);
      const requestLines = ingest
        .output()
        .split('\n')
        .filter((text) => text.includes(`"msg":"${line}"`));
      expect(requestLines.length).toBeGreaterThanOrEqual(atLeast);
      expect(ingest.output()).not.toContain(key);
    },
  );
});

describe("clients' addresses in logs", () => {
  it.each([
    ['drop', undefined],
    ['truncate', '203.0.113.0'],
    ['keep', '203.0.113.77'],
  ])('keep, under IP_POLICY=%s, what the stored events keep of them: %s', async (policy, logged) => {
    const ingest = await spawnService(MAIN, {
      REDIS_URL: testServices().redisUrl,
      ALLOW_ANONYMOUS_WRITES: 'true',
      DEFAULT_STREAM: randomName('ip'),
      IP_POLICY: policy,
      // The client's address comes through the proxy in front, as in production.
      TRUST_PROXY: '127.0.0.1',
      // Every request's line.
      LOG_LEVEL: 'debug',
    });
    // Connected to Redis first: on a loaded runner its first request came before, and got 503.
    await untilReady(ingest);
    const statuses: number[] = [];
    // One accepted, one refused (no event name): a refused request's line is logged at info too.
    for (const message of [{ userId: 'u', event: 'x' }, { userId: 'u' }]) {
      const response = await fetch(`${ingest.url}/v1/track`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.77' },
        body: JSON.stringify(message),
      });
      statuses.push(response.status);
      await response.text();
    }
    await ingest.stop();
    expect(statuses).toEqual([200, 400]);
    const requestLines = ingest
      .output()
      .split('\n')
      .filter((line) => line.includes('"req":'))
      .map((line) => JSON.parse(line) as { msg: string; req: { remoteAddress?: string } });
    expect(requestLines.map(({ msg, req }) => [msg, req.remoteAddress])).toEqual([
      ['incoming request', logged],
      ['incoming request', logged],
      ['request completed', logged],
    ]);
    if (policy !== 'keep') expect(ingest.output()).not.toContain('203.0.113.77');
  });

  it("keep no more than a request's own X-IP-Policy stores (Jitsu's privacy.ipPolicy), under IP_POLICY=keep", async () => {
    const ingest = await spawnService(MAIN, {
      REDIS_URL: testServices().redisUrl,
      ALLOW_ANONYMOUS_WRITES: 'true',
      DEFAULT_STREAM: randomName('ip'),
      IP_POLICY: 'keep',
      TRUST_PROXY: '127.0.0.1',
      // Every request's line.
      LOG_LEVEL: 'debug',
    });
    const statuses: number[] = [];
    for (const asked of ['remove', 'stripLastOctet']) {
      const response = await fetch(`${ingest.url}/api/s/track`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-forwarded-for': '203.0.113.77',
          'x-ip-policy': asked,
        },
        body: JSON.stringify({ type: 'track', anonymousId: 'a', event: 'x' }),
      });
      statuses.push(response.status);
      await response.text();
    }
    await ingest.stop();
    expect(statuses.every((status) => status < 300)).toBe(true);
    const logged = ingest
      .output()
      .split('\n')
      .filter((line) => line.includes('"msg":"incoming request"'))
      .map((line) => (JSON.parse(line) as { req: { remoteAddress?: string } }).req.remoteAddress);
    expect(logged).toEqual([undefined, '203.0.113.0']);
  });
});
