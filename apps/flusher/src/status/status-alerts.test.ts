import { describe, expect, it } from '@jest/globals';
import { noTotals, type Status } from './status.js';
import { formatBytes, formatDuration, statusAlerts } from './status-alerts.js';

type Unit = Pick<Status['streams'][number], 'stream' | 'stuck' | 'nearlyFull'>;

/** A status of these units (the fields the alerts read), in the order the reading keeps. */
function status(units: Unit[], changes: Partial<Omit<Status, 'alerts' | 'limit'>> = {}) {
  return {
    settings: { flushThresholdBytes: 1024, maxBufferBytes: 4 << 20, flushIntervalMs: 5 * 60_000 },
    totals: {
      ...noTotals(true),
      streams: units.length,
      stuck: units.filter((unit) => unit.stuck).length,
      nearlyFull: units.filter((unit) => unit.nearlyFull).length,
    },
    streams: units,
    lastFlushError: null,
    redis: { warnings: [], notes: [] },
    ...changes,
  } as unknown as Omit<Status, 'alerts' | 'limit'>;
}

describe('the status alerts', () => {
  it('says nothing of a status that needs nothing', () => {
    expect(statusAlerts(status([{ stream: 'web', stuck: false, nearlyFull: false }]))).toEqual([]);
  });

  it('names the stuck and the nearly full streams, at most five of each, in the order read', () => {
    const units = Array.from({ length: 7 }, (_, n) => ({ stream: `s${n}`, stuck: n < 6, nearlyFull: n > 3 }));
    expect(statusAlerts(status(units))).toEqual([
      {
        kind: 'stuck',
        text: '6 stream(s) stuck: data older than twice FLUSH_INTERVAL (10.0 min): s0, s1, s2, s3, s4 and 1 more',
        attention: true,
      },
      {
        kind: 'nearly-full',
        text: '3 stream(s) nearly full: over 80% of MAX_BUFFER_BYTES (4.0 MiB) in Redis; at 100% their writes are refused (503): s4, s5, s6',
        attention: true,
      },
    ]);
  });

  it('asks attention for a flush error until its stream has landed since, then says it as history', () => {
    const error = { type: 'Error', message: 'S3 was away', stream: 'web', at: '2026-12-07T22:00:00.000Z' };
    const [failing] = statusAlerts(status([], { lastFlushError: { ...error, landedSince: false } }));
    expect(failing).toEqual({
      kind: 'flush-error',
      text: 'last flush error, 2026-12-07T22:00:00.000Z (web): Error: S3 was away',
      attention: true,
    });
    const [past] = statusAlerts(status([], { lastFlushError: { ...error, landedSince: true } }));
    expect(past).toMatchObject({
      text: expect.stringMatching(/\(its stream has landed since\)$/),
      attention: false,
    });
  });

  it("asks attention for Redis's warnings, and says its notes (settings a deployment may have chosen) plainly", () => {
    const redis = { warnings: ['Redis uses 90% of its maxmemory'], notes: ['AOF is off'] };
    expect(statusAlerts(status([], { redis } as never))).toEqual([
      { kind: 'redis', text: 'Redis: Redis uses 90% of its maxmemory', attention: true },
      { kind: 'redis', text: 'Redis: AOF is off', attention: false },
    ]);
  });

  it('counts the streams whose counters were lost', () => {
    const answer = status([]);
    answer.totals.countersLost = 2;
    expect(statusAlerts(answer)).toEqual([
      expect.objectContaining({
        kind: 'counters-lost',
        text: expect.stringMatching(/^2 stream\(s\) landed more/),
      }),
    ]);
  });
});

describe('formatBytes and formatDuration', () => {
  it('writes whole bytes under 1 KiB, a rate (bytes/s) too: not a float 20 characters wide', () => {
    expect(formatBytes(80.61889250814332)).toBe('81 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(1024 ** 5)).toBe('1024.0 TiB');
    expect(formatDuration(60_000)).toBe('1.0 min');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(null)).toBe('-');
  });

  it('writes seconds, minutes and hours', () => {
    expect([formatDuration(4_000), formatDuration(600_000), formatDuration(9_000_000)]).toEqual([
      '4.0 s',
      '10.0 min',
      '2.5 h',
    ]);
  });
});
