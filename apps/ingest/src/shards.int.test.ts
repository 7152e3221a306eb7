import { afterAll, describe, expect, it } from '@jest/globals';
import { shardOfMessageId, shardUnit, streamKeys, streamRegistryKey } from '@spool/shared';
import { createTestRedis, randomName } from '@spool/testkit';
import { startTestIngest, type TestIngest } from '../test/support.js';

/** A stream split over shards (STREAM_SHARDS): where its events go, dedupe, and partial refusals. */
const redis = createTestRedis();
const ingests: TestIngest[] = [];
afterAll(async () => {
  for (const ingest of ingests) await ingest.close();
  await redis.quit();
});

async function ingestFor(env: Record<string, string>): Promise<TestIngest> {
  const ingest = await startTestIngest(env);
  ingests.push(ingest);
  return ingest;
}

function post(ingest: TestIngest, stream: string, events: unknown[]) {
  return ingest.app.inject({ method: 'POST', url: `/v1/streams/${stream}/events`, payload: events });
}

const linesOf = async (unit: string) =>
  ((await redis.get(streamKeys(unit).buf)) ?? '').split('\n').filter((line) => line !== '');

const PADDING = 'x'.repeat(6_000);

/** The stream's spool_ingest_events_total, by outcome, as the ingest exports it now. */
async function eventCounts(ingest: TestIngest, stream: string): Promise<(outcome: string) => number> {
  const metrics = (await ingest.app.inject({ url: '/metrics' })).body;
  return (outcome) =>
    Number(
      new RegExp(`spool_ingest_events_total\\{stream="${stream}",outcome="${outcome}"\\} (\\d+)`).exec(
        metrics,
      )?.[1] ?? 0,
    );
}

/** `count` messageIds that all hash to `shard` of `shards`. */
function idsOfShard(prefix: string, shard: number, shards: number, count: number): string[] {
  const ids: string[] = [];
  for (let i = 0; ids.length < count; i += 1) {
    if (shardOfMessageId(`${prefix}-${i}`, shards) === shard) ids.push(`${prefix}-${i}`);
  }
  return ids;
}

describe('a sharded stream', () => {
  it('keeps each event in the shard of its messageId, registers every shard, and deduplicates across requests', async () => {
    const stream = randomName('hot');
    const ingest = await ingestFor({ STREAM_SHARDS: `${stream}:4` });
    const events = Array.from({ length: 400 }, (_, i) => ({ messageId: `m-${i}`, n: i }));

    const first = await post(ingest, stream, events);
    expect(first.statusCode).toBe(202);
    expect(first.json()).toMatchObject({ accepted: 400, duplicates: 0 });

    const stored = new Map<string, number>();
    for (let shard = 0; shard < 4; shard += 1) {
      const lines = await linesOf(shardUnit(stream, shard));
      expect(lines.length).toBeGreaterThan(50);
      for (const line of lines) {
        const { messageId } = JSON.parse(line) as { messageId: string };
        expect(shardOfMessageId(messageId, 4)).toBe(shard);
        stored.set(messageId, (stored.get(messageId) ?? 0) + 1);
      }
    }
    expect(stored.size).toBe(400);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    // A sharded stream's buffer gauge is its shards' sum, which the sweep sets: not one shard's.
    expect((await ingest.app.inject({ url: '/metrics' })).body).not.toContain(
      `spool_buffer_bytes{stream="${stream}"}`,
    );
    for (let shard = 0; shard < 4; shard += 1) {
      expect(await redis.zscore(streamRegistryKey(), shardUnit(stream, shard))).not.toBeNull();
    }

    // The same ids again, in another order and split differently: every one is a duplicate.
    const again = await post(ingest, stream, [...events].reverse());
    expect(again.json()).toMatchObject({ accepted: 0, duplicates: 400 });
    expect((await Promise.all([0, 1, 2, 3].map((s) => linesOf(shardUnit(stream, s))))).flat()).toHaveLength(
      400,
    );
  });

  it("puts the events without a client messageId of one request in one shard, and the next request's in the next", async () => {
    const stream = randomName('hot');
    const ingest = await ingestFor({ STREAM_SHARDS: `${stream}:4` });
    expect((await post(ingest, stream, [{ a: 1 }, { a: 2 }, { a: 3 }])).statusCode).toBe(202);
    const perShard = await Promise.all([0, 1, 2, 3].map((s) => linesOf(shardUnit(stream, s))));
    expect(perShard.map((lines) => lines.length).sort()).toEqual([0, 0, 0, 3]);

    // Request after request, the shard taken turns: no one shard's share of MAX_BUFFER_BYTES
    // holds every event without an id of its own.
    for (let n = 0; n < 3; n += 1) expect((await post(ingest, stream, [{ b: n }])).statusCode).toBe(202);
    const after = await Promise.all([0, 1, 2, 3].map((s) => linesOf(shardUnit(stream, s))));
    expect(after.filter((lines) => lines.length > 0).length).toBeGreaterThan(1);
  });

  it("records a request's rejected events on the stream even when only another shard stored events", async () => {
    const stream = randomName('hot');
    const ingest = await ingestFor({ STREAM_SHARDS: `${stream}:2` });
    const [storedId] = idsOfShard('one', 1, 2, 1);
    const answer = await post(ingest, stream, [{ messageId: storedId }, 'not an object']);
    expect(answer.json()).toMatchObject({ accepted: 1, rejectedCount: 1 });
    expect(await linesOf(stream)).toEqual([]);
    // Shard 0's keys hold the stream's record: its counter and its quarantine (for S3).
    const keys = streamKeys(stream);
    expect(await redis.hget(keys.stats, 'rejected')).toBe('1');
    expect((await redis.lrange(keys.quarantine, 0, -1)).map((entry) => JSON.parse(entry).index)).toEqual([1]);
    expect(await redis.zscore(streamRegistryKey(), stream)).not.toBeNull();
  });

  it('records a request refused whole on a stream whose events so far all went to another shard', async () => {
    // Shard 0 holds the stream's record, and had none: the refusal was counted nowhere (a review's run).
    const stream = randomName('hot');
    const ingest = await ingestFor({ STREAM_SHARDS: `${stream}:2` });
    const [storedId] = idsOfShard('one', 1, 2, 1);
    expect((await post(ingest, stream, [{ messageId: storedId }])).json()).toMatchObject({ accepted: 1 });
    const refused = await post(ingest, stream, [1, 2, 3]);
    expect(refused.statusCode).toBe(400);
    const keys = streamKeys(stream);
    expect(await redis.hget(keys.stats, 'rejected')).toBe('3');
    expect(await redis.llen(keys.quarantine)).toBe(3);
    // A stream no shard of which stored anything is still not recorded: no key for a made-up name.
    const madeUp = randomName('hot');
    const other = await ingestFor({ STREAM_SHARDS: `${madeUp}:2` });
    expect((await post(other, madeUp, [1, 2])).statusCode).toBe(400);
    expect(await redis.exists(streamKeys(madeUp).stats, streamKeys(madeUp).quarantine)).toBe(0);
  });

  it("records a retry's rejected events though its other events were all duplicates on another shard", async () => {
    const stream = randomName('hot');
    const ingest = await ingestFor({ STREAM_SHARDS: `${stream}:2` });
    const [storedId] = idsOfShard('one', 1, 2, 1);
    expect((await post(ingest, stream, [{ messageId: storedId }])).json()).toMatchObject({ accepted: 1 });
    // As a retry after a 503 'may be stored' whose append Redis did apply.
    const answer = await post(ingest, stream, [{ messageId: storedId }, 'not an object']);
    expect(answer.json()).toMatchObject({ accepted: 0, duplicates: 1, rejectedCount: 1 });
    expect(await redis.hget(streamKeys(stream).stats, 'rejected')).toBe('1');
  });

  /**
   * A stream of 2 shards, each of which may hold 64 KiB (and flushes at 32 KiB; no flusher runs
   * here), whose shard 1 is filled to about 61 KB: another 6 KB event there does not fit.
   * Returns the id of that event.
   */
  async function nearlyFullShard(stream: string): Promise<{ ingest: TestIngest; refusedId: string }> {
    const ingest = await ingestFor({
      STREAM_SHARDS: `${stream}:2`,
      MAX_BODY_BYTES: '16KiB',
      MAX_EVENT_BYTES: '8KiB',
      FLUSH_THRESHOLD_BYTES: '64KiB',
      MAX_BUFFER_BYTES: '128KiB',
    });
    const [refusedId, ...fillIds] = idsOfShard('one', 1, 2, 11);
    for (const id of fillIds) {
      expect((await post(ingest, stream, [{ messageId: id, padding: PADDING }])).statusCode).toBe(202);
    }
    return { ingest, refusedId: refusedId as string };
  }

  it('answers 503 SPOOL_PARTLY_STORED when one shard is full, and the retry stores only the rest', async () => {
    const stream = randomName('hot');
    const { ingest, refusedId } = await nearlyFullShard(stream);
    const [openId] = idsOfShard('zero', 0, 2, 1);
    const both = [
      { messageId: openId, n: 0 },
      { messageId: refusedId, padding: PADDING },
    ];
    const refused = await post(ingest, stream, [...both, 'not an object']);
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ code: 'SPOOL_PARTLY_STORED' });
    expect((await linesOf(stream)).some((line) => line.includes(openId as string))).toBe(true);

    // Once shard 1 has room (as after its flush), the retry stores only what was refused.
    await redis.del(streamKeys(shardUnit(stream, 1)).buf);
    const retry = await post(ingest, stream, [...both, 'not an object']);
    expect(retry.statusCode).toBe(202);
    expect(retry.json()).toMatchObject({ accepted: 1, duplicates: 1, rejectedCount: 1 });

    // Each event counted once: the part stored by the refused request too (its retry finds it a
    // duplicate), the rejected one once its request was answered for good.
    const count = await eventCounts(ingest, stream);
    expect([count('accepted'), count('duplicate'), count('rejected')]).toEqual([1 + 10 + 1, 1, 1]);
    expect(await redis.hget(streamKeys(stream).stats, 'rejected')).toBe('1');
  });

  it('counts a duplicate left out by a SPOOL_PARTLY_STORED request once: when its retry is answered', async () => {
    const stream = randomName('hot');
    const { ingest, refusedId } = await nearlyFullShard(stream);
    const [openId] = idsOfShard('zero', 0, 2, 1);
    expect((await post(ingest, stream, [{ messageId: openId }])).json()).toMatchObject({ accepted: 1 });
    // Shard 0's part is all duplicate (stored, nothing appended); shard 1's is refused.
    const both = [{ messageId: openId }, { messageId: refusedId, padding: PADDING }];
    expect((await post(ingest, stream, both)).json()).toMatchObject({ code: 'SPOOL_PARTLY_STORED' });
    await redis.del(streamKeys(shardUnit(stream, 1)).buf);
    expect((await post(ingest, stream, both)).json()).toMatchObject({ accepted: 1, duplicates: 1 });

    const count = await eventCounts(ingest, stream);
    expect([count('accepted'), count('duplicate')]).toEqual([10 + 1 + 1, 1]);
  });

  it('answers SPOOL_BUFFER_FULL, storing nothing, when every shard it needs is full', async () => {
    const stream = randomName('hot');
    const { ingest, refusedId } = await nearlyFullShard(stream);
    const refused = await post(ingest, stream, [{ messageId: refusedId, padding: PADDING }]);
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ code: 'SPOOL_BUFFER_FULL' });
    expect(await linesOf(stream)).toEqual([]);
  });
});
