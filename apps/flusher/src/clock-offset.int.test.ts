import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { createTestRedis, ONLY_THE_WALL_CLOCK, TcpProxy, testServices } from '@spool/testkit';
import { Redis } from 'ioredis';
import pino from 'pino';
import { clockOffsetCheck } from './clock-offset.js';
import { createFlusherMetrics } from './metrics.js';

const redis = createTestRedis();
afterAll(() => redis.quit());

async function offsetAndWarnings(clockMs: number): Promise<{ offset: number | undefined; warnings: number }> {
  const lines: Array<{ msg: string }> = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const metrics = createFlusherMetrics();
  const check = clockOffsetCheck({ redis, metrics, logger });
  // Only Date: the timers and the connection's own run on.
  jest.useFakeTimers({
    now: clockMs,
    doNotFake: [...ONLY_THE_WALL_CLOCK],
  });
  try {
    await check();
    await check();
  } finally {
    jest.useRealTimers();
  }
  const gauge = await metrics.registry.getSingleMetric('spool_flusher_clock_offset_seconds')?.get();
  return {
    offset: gauge?.values[0]?.value,
    warnings: lines.filter((line) => line.msg.includes("this flusher's clock is off Redis's")).length,
  };
}

describe("a flusher's clock against Redis's", () => {
  it('is a gauge, and a warning (once, however many ticks) when an hour ahead or behind', async () => {
    const ahead = await offsetAndWarnings(Date.now() + 3_600_000);
    expect(ahead.offset).toBeGreaterThan(3_500);
    expect(ahead.warnings).toBe(1);
    const behind = await offsetAndWarnings(Date.now() - 3_600_000);
    expect(behind.offset).toBeLessThan(-3_500);
    expect(behind.warnings).toBe(1);
  });

  it('warns past 5 s either way, as the docs say, and not within', async () => {
    for (const [offsetMs, warnings] of [
      [8_000, 1],
      [-8_000, 1],
      [2_000, 0],
      [-2_000, 0],
    ] as const) {
      const seen = await offsetAndWarnings(Date.now() + offsetMs);
      expect({ offsetMs, warnings: seen.warnings }).toEqual({ offsetMs, warnings });
    }
  });

  it('takes no reading whose TIME waited (Redis away, or slow): the wait is no offset', async () => {
    const target = new URL(testServices().redisUrl);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port));
    const slow = new Redis(proxy.url('redis'));
    const lines: Array<{ msg: string }> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const metrics = createFlusherMetrics();
    try {
      await slow.ping();
      const held = proxy.holdRequestWith(['time']); // as ioredis sends it;
      const reading = clockOffsetCheck({ redis: slow, metrics, logger })();
      await held;
      await sleep(1_500);
      proxy.restore();
      await reading;
      const gauge = await metrics.registry.getSingleMetric('spool_flusher_clock_offset_seconds')?.get();
      // Unset (a gauge's 0): counted, the 1.5 s wait read as -1.5 s, or -0.75 from its middle.
      expect(Math.abs(gauge?.values[0]?.value ?? Number.NaN)).toBeLessThan(0.5);
      expect(lines).toEqual([]);
    } finally {
      slow.disconnect();
      await proxy.close();
    }
  });

  it('says nothing of a clock within seconds of it', async () => {
    const synced = await offsetAndWarnings(Date.now());
    expect(Math.abs(synced.offset ?? Number.NaN)).toBeLessThan(5);
    expect(synced.warnings).toBe(0);
  });
});
