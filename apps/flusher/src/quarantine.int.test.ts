import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from '@jest/globals';
import { defineSpoolCommands, recordRejected, redisNow, startDrain, streamKeys } from '@spool/shared';
import { createTestRedis, createTestS3, listObjectKeys, randomName, testServices } from '@spool/testkit';
import { drainQuarantine, quarantineKey } from './quarantine.js';

const { s3: services } = testServices();
const redis = createTestRedis();
defineSpoolCommands(redis);
const s3 = createTestS3();

afterAll(async () => {
  await redis.quit();
  s3.destroy();
});

/** A stream that has stored an event (so it has counters) and `count` kept rejected events. */
async function rejected(stream: string, count: number, from = 0): Promise<string[]> {
  const keys = streamKeys(stream);
  await redis.hsetnx(keys.stats, 'accepted', '1');
  const entries = Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      receivedAt: new Date().toISOString(),
      requestId: `r${from + i}`,
      index: 0,
      code: 'SPOOL_INVALID_JSON',
      message: 'bad',
      text: '{',
    }),
  );
  await recordRejected(redis, keys, { count, entries, stored: false }, 1_000);
  return entries;
}

async function body(key: string): Promise<string> {
  const answer = await s3.send(new GetObjectCommand({ Bucket: services.bucket, Key: key }));
  return (await answer.Body?.transformToString()) ?? '';
}

describe('draining the quarantine', () => {
  const deps = (prefix: string) => ({ redis, s3, bucket: services.bucket, prefix, namespace: 'spool' });

  it('waits until there are enough entries or the oldest is old enough, then writes them all in one object', async () => {
    const prefix = `${randomName('q')}/`;
    const stream = randomName('web');
    const entries = await rejected(stream, 3);
    const now = await redisNow(redis);
    expect(
      await drainQuarantine(deps(prefix), stream, now, { fullAt: 10, maxAgeMs: 60_000 }),
    ).toBeUndefined();
    const key = await drainQuarantine(deps(prefix), stream, now + 61_000, { fullAt: 10, maxAgeMs: 60_000 });
    expect(key).toMatch(
      new RegExp(
        `^${prefix}_quarantine/stream=${stream}/dt=\\d{4}-\\d\\d-\\d\\d/${stream}-\\d{8}T\\d{9}Z-q1\\.ndjson$`,
      ),
    );
    expect(await body(key as string)).toBe(entries.map((entry) => `${entry}\n`).join(''));
    const keys = streamKeys(stream);
    // Nothing of it is left, its age neither.
    expect(
      await redis.exists(
        keys.quarantine,
        keys.quarantineDraining,
        keys.quarantineDrainingId,
        keys.quarantineSince,
      ),
    ).toBe(0);
  });

  it('writes entries of unknown age (no age kept: an earlier version kept none) at once, however few', async () => {
    const prefix = `${randomName('q')}/`;
    const stream = randomName('web');
    const entries = await rejected(stream, 1);
    await redis.del(streamKeys(stream).quarantineSince);
    const key = await drainQuarantine(deps(prefix), stream, await redisNow(redis), {
      fullAt: 10,
      maxAgeMs: 60_000,
    });
    expect(await body(key as string)).toBe(`${entries[0]}\n`);
  });

  it('finishes a drain whose entries were deleted while it was unfinished, writing no object, then goes on', async () => {
    const prefix = `${randomName('q')}/`;
    const stream = randomName('web');
    const keys = streamKeys(stream);
    await rejected(stream, 2);
    await startDrain(redis, keys, 'quarantine');
    await redis.del(keys.quarantineDraining);
    const when = { fullAt: 1, maxAgeMs: 0 };
    expect(await drainQuarantine(deps(prefix), stream, await redisNow(redis), when)).toBeUndefined();
    expect(await redis.exists(keys.quarantineDrainingId)).toBe(0);
    expect(await listObjectKeys(s3, services.bucket, `${prefix}_quarantine/`)).toEqual([]);
    const later = await rejected(stream, 1, 2);
    const next = await drainQuarantine(deps(prefix), stream, await redisNow(redis), when);
    expect(next).toMatch(/-q2\.ndjson$/);
    expect(await body(next as string)).toBe(`${later[0]}\n`);
  });

  it("ages the entries on Redis's clock, whatever the clock of the ingest that refused them says", async () => {
    const prefix = `${randomName('q')}/`;
    const stream = randomName('web');
    const keys = streamKeys(stream);
    await redis.hsetnx(keys.stats, 'accepted', '1');
    // Refused by an ingest whose clock runs an hour behind.
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const entry = JSON.stringify({
      receivedAt: hourAgo,
      requestId: 'r',
      index: 0,
      code: 'SPOOL_INVALID_JSON',
    });
    const before = await redisNow(redis);
    await recordRejected(redis, keys, { count: 1, entries: [entry], stored: false }, 1_000);
    const since = Number(await redis.get(keys.quarantineSince));
    expect(since).toBeGreaterThanOrEqual(before);
    expect(since).toBeLessThanOrEqual(await redisNow(redis));

    const when = { fullAt: 10, maxAgeMs: 60_000 };
    expect(await drainQuarantine(deps(prefix), stream, since + 59_000, when)).toBeUndefined();
    // A later entry leaves the quarantine's age as it was: its oldest entry's.
    await recordRejected(redis, keys, { count: 1, entries: [entry], stored: false }, 1_000);
    expect(Number(await redis.get(keys.quarantineSince))).toBe(since);
    expect(await drainQuarantine(deps(prefix), stream, since + 60_000, when)).toMatch(/-q1\.ndjson$/);
    // The next entry, into an empty quarantine, starts its age again.
    const beforeNext = await redisNow(redis);
    await recordRejected(redis, keys, { count: 1, entries: [entry], stored: false }, 1_000);
    const restarted = Number(await redis.get(keys.quarantineSince));
    expect(restarted).toBeGreaterThanOrEqual(beforeNext);
    expect(await drainQuarantine(deps(prefix), stream, restarted + 59_000, when)).toBeUndefined();
  });

  it('writes the same object again after a crash mid-drain, never a second one, then goes on', async () => {
    const prefix = `${randomName('q')}/`;
    const stream = randomName('web');
    const first = await rejected(stream, 2);
    // A flusher took the entries out of service and died before S3 had them.
    const id = (await startDrain(redis, streamKeys(stream), 'quarantine')) as string;
    const later = await rejected(stream, 1, 2);
    const when = { fullAt: 1, maxAgeMs: 0 };
    const now = await redisNow(redis);

    expect(await drainQuarantine(deps(prefix), stream, now, when)).toBe(quarantineKey(prefix, stream, id));
    expect(await body(quarantineKey(prefix, stream, id))).toBe(first.map((entry) => `${entry}\n`).join(''));
    const next = (await drainQuarantine(deps(prefix), stream, now, when)) as string;
    expect(next).toMatch(/-q2\.ndjson$/);
    expect(await body(next)).toBe(`${later[0]}\n`);
    expect(await listObjectKeys(s3, services.bucket, `${prefix}_quarantine/`)).toEqual(
      [quarantineKey(prefix, stream, id), next].sort(),
    );
  });
});
