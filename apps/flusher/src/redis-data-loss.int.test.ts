import { afterAll, describe, expect, it } from '@jest/globals';
import { redisEpochKey } from '@spool/shared';
import { createTestRedis, randomName, waitFor } from '@spool/testkit';
import pino from 'pino';
import { startTestFlusher } from '../test/support.js';
import { createFlusherMetrics } from './metrics.js';
import { redisDataLossCheck } from './redis-data-loss.js';

const redis = createTestRedis();
afterAll(() => redis.quit());

/** A flusher's check, with what it logged and counted. */
function flusherCheck(namespace: string) {
  const lines: Array<{ msg: string; level: number }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const metrics = createFlusherMetrics();
  const check = redisDataLossCheck({ redis, namespace, metrics, logger });
  const counted = async () =>
    (await metrics.registry.getSingleMetric('spool_redis_data_lost_total')?.get())?.values[0]?.value ?? 0;
  return { check, lines, counted };
}

/** Three sweep ticks of each flusher's check, in turn. */
async function threeTicks(...flushers: Array<{ check(): Promise<void> }>): Promise<void> {
  for (let tick = 0; tick < 3; tick += 1) for (const flusher of flushers) await flusher.check();
}

describe("a flusher's check that Redis kept its data", () => {
  it('says nothing of a Redis it finds new or unchanged, tick after tick', async () => {
    const namespace = randomName('ns');
    const a = flusherCheck(namespace);
    const b = flusherCheck(namespace);
    await threeTicks(a, b);
    expect(await redis.exists(redisEpochKey(namespace))).toBe(1);
    expect([await a.counted(), await b.counted(), a.lines.length, b.lines.length]).toEqual([0, 0, 0, 0]);
  });

  it.each([
    // A restart without AOF, or a FLUSHALL.
    ['lost it all', (key: string) => redis.del(key)],
    // A restart from an older RDB snapshot, or a failover to a replica behind: the key is there,
    // from before the last writes.
    ['went back to an older state', (key: string) => redis.set(key, '2')],
  ])('logs at error and counts, once on each flusher, a Redis that %s', async (_case, lose) => {
    const namespace = randomName('ns');
    const a = flusherCheck(namespace);
    const b = flusherCheck(namespace);
    await threeTicks(a, b);
    await lose(redisEpochKey(namespace));
    await threeTicks(a, b);
    for (const flusher of [a, b]) {
      expect(await flusher.counted()).toBe(1);
      expect(flusher.lines).toEqual([
        expect.objectContaining({ level: 50, msg: expect.stringContaining('Redis lost its data') }),
      ]);
    }
  });

  it("is the flusher's at each sweep tick, in its /metrics", async () => {
    const namespace = randomName('ns');
    const flusher = await startTestFlusher({ REDIS_NAMESPACE: namespace, FLUSH_INTERVAL: '1s' });
    try {
      const lost = async () => {
        const text = (await flusher.app.inject({ method: 'GET', url: '/metrics' })).body;
        return /^spool_redis_data_lost_total (\d+)$/m.exec(text)?.[1];
      };
      await waitFor(
        async () => (await redis.exists(redisEpochKey(namespace))) || undefined,
        30_000,
        'the id set',
      );
      expect(await lost()).toBe('0');
      await redis.del(redisEpochKey(namespace));
      await waitFor(async () => ((await lost()) === '1' ? true : undefined), 30_000, 'the loss counted');
    } finally {
      await flusher.close();
    }
  });
});
