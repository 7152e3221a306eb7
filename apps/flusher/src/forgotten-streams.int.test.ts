import { afterAll, describe, expect, it } from '@jest/globals';
import { lastFlushErrorKey, streamKeys, streamRegistryKey } from '@spool/shared';
import { createTestRedis, randomName, waitFor } from '@spool/testkit';
import { fillBuffer, startTestFlusher, type TestFlusher } from '../test/support.js';

/**
 * A stream the sweep forgets (idle past the registry's horizon, nothing of it left in Redis)
 * leaves nothing behind that still asks for attention: not its old flush error on the status
 * page, not its series in the sweep's gauges.
 */
const redis = createTestRedis();
const flushers: TestFlusher[] = [];
afterAll(async () => {
  await Promise.all(flushers.map((flusher) => flusher.close()));
  await redis.quit();
});

async function flusher() {
  const namespace = randomName('ns');
  const started = await startTestFlusher({ REDIS_NAMESPACE: namespace, FLUSH_INTERVAL: '1s' });
  flushers.push(started);
  return Object.assign(started, { namespace });
}

/**
 * Until the sweep has forgotten `stream` (its registration dated at 1 ms past the epoch: idle for
 * ever) and purged its counters: the visit takes it out of the registry, then purges its keys on
 * their own slot, a round trip later (a clean clone's run read the counters in between).
 */
const forgotten = async (namespace: string, stream: string) => {
  await redis.zadd(streamRegistryKey(namespace), 'XX', 1, stream);
  await waitFor(
    async () => ((await redis.zscore(streamRegistryKey(namespace), stream)) === null ? true : undefined),
    20_000,
    'the sweep to forget the stream',
  );
  await waitFor(
    async () => ((await redis.exists(streamKeys(stream, namespace).stats)) === 0 ? true : undefined),
    10_000,
    'the counters of the forgotten stream purged',
  );
};

describe('a stream the sweep forgets', () => {
  it('keeps its old flush error as history: the page does not ask for attention again', async () => {
    const target = await flusher();
    const stream = randomName('recovered');
    // An error of two hours ago (as recordFlushError writes it); the stream lands since.
    const at = new Date(Date.now() - 2 * 3_600_000).toISOString();
    await redis.set(
      lastFlushErrorKey(target.namespace),
      JSON.stringify({ type: 'Error', message: 'S3 was away', stream, at }),
    );
    await fillBuffer(redis, streamKeys(stream, target.namespace), 1024);
    const landedSince = async () =>
      (await target.app.inject('/status.json')).json().lastFlushError?.landedSince === true
        ? true
        : undefined;
    await waitFor(landedSince, 30_000, 'the stream to land after its error');
    await forgotten(target.namespace, stream);
    // Before: its lastLandedAt went with it, and the error read as a live problem again.
    // Read again once a reading no longer has the stream (the page's readings are reused a while).
    const status = await waitFor(
      async () => {
        const json = (await target.app.inject('/status.json')).json();
        return json.streams.some((row: { stream: string }) => row.stream === stream) ? undefined : json;
      },
      10_000,
      'a reading without the stream',
    );
    expect(status.lastFlushError).toMatchObject({ stream, landedSince: true });
  });

  it("drops its series of the sweep's gauges, so SpoolCountersLost can end", async () => {
    const target = await flusher();
    const stream = randomName('lost');
    const keys = streamKeys(stream, target.namespace);
    // More landed than accepted: its counters disagree (SpoolCountersLost).
    await redis.hset(keys.stats, { accepted: 1, landed: 5 });
    await redis.zadd(streamRegistryKey(target.namespace), Date.now(), stream);
    const series = async () =>
      (await target.app.inject('/metrics')).body.includes(`spool_stream_counters_lost{stream="${stream}"}`);
    await waitFor(async () => ((await series()) ? true : undefined), 20_000, 'the series set');
    await forgotten(target.namespace, stream);
    // Before: set to 1 by the tick that forgot it, and kept until the flusher restarted.
    await waitFor(async () => ((await series()) ? undefined : true), 10_000, 'the series dropped');
  });
});
