import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { streamKeys, streamRegistryKey } from '@spool/shared';
import { createTestRedis, randomName, TcpProxy, testServices, waitFor } from '@spool/testkit';
import { Redis } from 'ioredis';
import { startTestIngest, type TestIngest } from '../test/support.js';

const redis = createTestRedis();
afterAll(() => redis.quit());

const lines = async (stream: string) =>
  ((await redis.get(streamKeys(stream).buf)) ?? '').split('\n').filter((line) => line !== '');

function post(ingest: TestIngest, stream: string, body: unknown) {
  return ingest.app.inject({
    method: 'POST',
    url: `/v1/streams/${stream}/events`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
}

describe('a reply lost with its connection', () => {
  let proxy: TcpProxy;
  beforeAll(async () => {
    const target = new URL(testServices().redisUrl);
    proxy = await TcpProxy.start(target.hostname, Number(target.port));
  });
  afterAll(() => proxy.close());

  it('is re-sent by a client with ioredis defaults, storing the events twice (what the ingest must avoid)', async () => {
    // The fault as the ingest would meet it, against a client that keeps ioredis's defaults:
    // proves the proxy reproduces the double append the next test rules out.
    const client = new Redis(proxy.url('redis'), { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    try {
      const key = streamKeys(randomName()).buf;
      await client.ping();
      proxy.loseReplyTo('A-marker');
      // Answered after the reconnect, by the re-sent command.
      await client.append(key, 'A-marker\n');
      expect(proxy.lostReplies).toBeGreaterThan(0);
      expect(await redis.get(key)).toBe('A-marker\nA-marker\n');
    } finally {
      client.disconnect();
      proxy.restore();
    }
  });

  it('gets 503 "may be stored", and the ingest never sends the append again', async () => {
    const ingest = await startTestIngest(
      // Dedupe off and no messageIds: only the absence of a re-send can keep this to one copy.
      // The lost reply is answered when the command times out; 2 s keeps a slow runner's
      // ordinary replies inside it, so each post below is sent once.
      { DEDUPE_WINDOW: '0', REDIS_COMMAND_TIMEOUT: '2s' },
      proxy.url('redis'),
    );
    try {
      const stream = randomName();
      // Registered and the script loaded: the request that carries the marker is the append.
      expect((await post(ingest, stream, { n: 1 })).statusCode).toBe(202);
      const lost = proxy.lostReplies;
      proxy.loseReplyTo('"lost-reply-marker"');

      const answer = await post(ingest, stream, { n: 2, marker: 'lost-reply-marker' });
      expect(proxy.lostReplies).toBe(lost + 1);
      expect(answer.statusCode).toBe(503);
      expect(answer.json()).toMatchObject({ code: 'SPOOL_REDIS_UNAVAILABLE' });
      expect(answer.json().message).toContain('may be stored');

      // Reconnected: a re-send would have gone out on the new connection before this append.
      // Waited for with /readyz, not by posting: a post that timed out could be stored as well.
      await waitFor(
        async () => ((await ingest.app.inject({ url: '/readyz' })).statusCode === 200 ? true : undefined),
        10_000,
        'the ingest to reconnect',
      );
      expect((await post(ingest, stream, { n: 3 })).statusCode).toBe(202);
      expect((await lines(stream)).map((line) => JSON.parse(line).n)).toEqual([1, 2, 3]);
      expect(await redis.hget(streamKeys(stream).stats, 'accepted')).toBe('3');
    } finally {
      proxy.restore();
      await ingest.close();
    }
  });
});

describe('messageId dedupe', () => {
  let ingest: TestIngest;
  beforeAll(async () => {
    ingest = await startTestIngest({ GROUP_COMMIT_WINDOW: '20ms' });
  });
  afterAll(() => ingest.close());

  it('stores a retried batch once, and answers the retry with its duplicates counted, not as errors', async () => {
    const stream = randomName();
    const batch = [
      { messageId: 'm-1', event: 'a' },
      { messageId: 'm-2', event: 'b' },
      { event: 'no id of its own' },
    ];
    expect((await post(ingest, stream, batch)).json()).toMatchObject({ accepted: 3, duplicates: 0 });

    const retry = await post(ingest, stream, batch);
    expect(retry.statusCode).toBe(202);
    // The event without an id got a new one each time: it is a new event to the server.
    expect(retry.json()).toEqual({ accepted: 1, duplicates: 2, rejected: [], rejectedCount: 0 });
    const stored = (await lines(stream)).map((line) => JSON.parse(line).messageId);
    expect(stored.filter((id) => id === 'm-1' || id === 'm-2')).toEqual(['m-1', 'm-2']);
    expect(stored).toHaveLength(4);

    const metrics = (await ingest.app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(
      new RegExp(`spool_ingest_events_total\\{stream="${stream}",outcome="duplicate"\\} 2`),
    );
    expect(await redis.hget(streamKeys(stream).stats, 'duplicates')).toBe('2');
  });

  it('stores an id once when two requests of one group carry it', async () => {
    const stream = randomName();
    const answers = await Promise.all([
      post(ingest, stream, { messageId: 'same', from: 'first' }),
      post(ingest, stream, { messageId: 'same', from: 'second' }),
    ]);
    expect(answers.map((answer) => answer.statusCode)).toEqual([202, 202]);
    const outcomes = answers.map((answer) => answer.json() as { accepted: number; duplicates: number });
    expect(outcomes.map((o) => o.accepted).sort()).toEqual([0, 1]);
    expect(outcomes.map((o) => o.duplicates).sort()).toEqual([0, 1]);
    expect(await lines(stream)).toHaveLength(1);
    // They did share one append.
    expect((await ingest.app.inject({ url: '/metrics' })).body).toMatch(
      /spool_ingest_append_group_requests_bucket\{le="2"\} [1-9]/,
    );
  });

  it("leaves out a group's duplicate by its line in the group, past the requests before it", async () => {
    const stream = randomName();
    expect((await post(ingest, stream, { messageId: 'stored-before', n: 'b1' })).statusCode).toBe(202);
    const before = await lines(stream);

    const [first, second] = await Promise.all([
      // An event with a generated id, then one with its own: the second request's lines follow.
      post(ingest, stream, [{ n: 'a1' }, { messageId: 'a2', n: 'a2' }]),
      post(ingest, stream, [{ messageId: 'stored-before', n: 'b1' }, { n: 'b2' }]),
    ]);

    expect(first?.json()).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(second?.json()).toMatchObject({ accepted: 1, duplicates: 1 });
    const stored = (await lines(stream)).slice(before.length).map((line) => JSON.parse(line).n);
    expect(stored).toEqual(['a1', 'a2', 'b2']);
  });

  it('keeps streams apart: the same id in another stream is stored', async () => {
    const [one, two] = [randomName(), randomName()];
    expect((await post(ingest, one, { messageId: 'x-1' })).json()).toMatchObject({ accepted: 1 });
    expect((await post(ingest, two, { messageId: 'x-1' })).json()).toMatchObject({ accepted: 1 });
  });
});

describe('stream registration', () => {
  it('happens again when an append starts a new buffer, so the events after a FLUSHALL are still swept', async () => {
    const ingest = await startTestIngest({});
    try {
      const stream = randomName();
      expect((await post(ingest, stream, { n: 1 })).statusCode).toBe(202);
      // What a FLUSHALL does to the stream, while the ingest still remembers registering it.
      const keys = streamKeys(stream);
      await redis.zrem(streamRegistryKey(), stream);
      await redis.del(keys.buf, keys.gen, keys.since, keys.stats);

      expect((await post(ingest, stream, { n: 2 })).statusCode).toBe(202);
      expect(await redis.zscore(streamRegistryKey(), stream)).not.toBeNull();
      // Once a buffer: the next append into it registers nothing.
      await redis.zrem(streamRegistryKey(), stream);
      expect((await post(ingest, stream, { n: 3 })).statusCode).toBe(202);
      expect(await redis.zscore(streamRegistryKey(), stream)).toBeNull();
    } finally {
      await ingest.close();
    }
  });

  it('happens before the append: when it fails, the request gets 503 and nothing is stored', async () => {
    // A Redis user that may touch every stream key (`spool:{<stream>}:…`) but not the registry
    // (`{spool}:stream-registry`).
    const user = randomName('acl');
    await redis.call('ACL', 'SETUSER', user, 'on', '>pw-for-tests', '~spool:{*', '+@all');
    const url = new URL(testServices().redisUrl);
    url.username = user;
    url.password = 'pw-for-tests';
    const ingest = await startTestIngest({}, url.toString());
    try {
      const stream = randomName();
      const refused = await post(ingest, stream, { n: 1 });
      expect(refused.statusCode).toBe(503);
      expect(await redis.exists(streamKeys(stream).buf)).toBe(0);
      expect(await redis.hget(streamKeys(stream).stats, 'accepted')).toBeNull();

      await redis.call('ACL', 'SETUSER', user, '~*');
      expect((await post(ingest, stream, { n: 2 })).statusCode).toBe(202);
      expect(await redis.zscore(streamRegistryKey(), stream)).not.toBeNull();
    } finally {
      await ingest.close();
      await redis.call('ACL', 'DELUSER', user);
    }
  });
});
