import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  flushRepeatedLogs,
  redisConnectionWarnings,
  repeatedLog,
  repeatedLogPerKey,
} from './repeated-log.js';

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

describe('repeatedLog', () => {
  it("logs the first warning, then the window's repeats as it ends: one line standing for the rest", () => {
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const warn = repeatedLog(
      {
        warn: (fields: Record<string, unknown>, message: string) => lines.push({ fields, message }),
        info: () => {},
      } as never,
      'worker error',
      { everyMs: 10_000 },
    );
    const oom = new Error('OOM command not allowed');
    for (let i = 0; i < 2_200; i += 1) warn(oom);
    expect(lines).toEqual([{ fields: { err: oom }, message: 'worker error' }]);

    // Nothing more came: the window's 2,199 are still told, one line and its 2,198 others.
    jest.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(2);
    expect(lines[1]?.fields).toEqual({ err: oom, repeatedSinceLastLine: 2_198 });
  });

  it('accounts for every occurrence of an outage in its lines, and says at info when it stopped', () => {
    const warned: Array<Record<string, unknown>> = [];
    const told: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const warn = repeatedLog(
      {
        warn: (fields: Record<string, unknown>) => warned.push(fields),
        info: (fields: Record<string, unknown>, message: string) => told.push({ fields, message }),
      } as never,
      'append failed',
      { everyMs: 10_000 },
    );
    // 35 s of failures, 7 a second, then none.
    let occurrences = 0;
    for (let ms = 0; ms < 35_000; ms += 143) {
      warn(new Error('down'));
      occurrences += 1;
      jest.advanceTimersByTime(143);
    }
    expect(told).toEqual([]);
    jest.advanceTimersByTime(30_000);
    const accounted = warned.reduce(
      (sum, line) => sum + 1 + ((line.repeatedSinceLastLine as number) ?? 0),
      0,
    );
    expect(accounted).toBe(occurrences);
    expect(warned.length).toBeLessThanOrEqual(5);
    expect(told).toEqual([{ fields: { occurrences }, message: 'append failed: stopped, none for 10 s' }]);
  });

  it('tells a window cut short by the end of the process (flushRepeatedLogs, at shutdown), once', () => {
    const lines: Array<Record<string, unknown>> = [];
    const warn = repeatedLog(
      { warn: (fields: Record<string, unknown>) => lines.push(fields), info: () => {} } as never,
      'admin view refused',
    );
    for (let i = 0; i < 6; i += 1) warn(new Error('no key'));
    flushRepeatedLogs();
    flushRepeatedLogs();
    expect(lines.map((line) => line.repeatedSinceLastLine)).toEqual([undefined, 4]);
  });

  it('says nothing more of a lone occurrence', () => {
    const lines: unknown[] = [];
    const warn = repeatedLog(
      {
        warn: (fields: unknown) => lines.push(fields),
        info: (fields: unknown) => lines.push(fields),
      } as never,
      'flush failed',
    );
    warn(new Error('once'));
    jest.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(1);
  });

  it('logs again once the interval has passed, though the wall clock was stepped back an hour meanwhile', () => {
    const lines: unknown[] = [];
    const warn = repeatedLog({ warn: (fields: unknown) => lines.push(fields) } as never, 'flush failed', {
      everyMs: 10_000,
    });
    warn(new Error('first'));
    // NTP, or an operator, puts the clock back: Date.now() goes back, performance.now() does not.
    jest.setSystemTime(Date.now() - 3_600_000);
    jest.advanceTimersByTime(10_000);
    warn(new Error('second'));
    expect(lines).toHaveLength(2);
  });
});

describe('redisConnectionWarnings', () => {
  it("counts each client's errors apart, naming the client", () => {
    const lines: Array<Record<string, unknown>> = [];
    const warn = redisConnectionWarnings({
      warn: (fields: Record<string, unknown>) => lines.push(fields),
      info: () => {},
    } as never);
    const refused = new Error('connect ECONNREFUSED');
    for (let i = 0; i < 50; i += 1) {
      warn(refused, 'redis');
      warn(refused, 'queue');
    }
    expect(lines).toEqual([
      { client: 'redis', err: refused },
      { client: 'queue', err: refused },
    ]);
    jest.advanceTimersByTime(10_000);
    expect(lines.slice(2)).toEqual([
      { client: 'redis', err: refused, repeatedSinceLastLine: 48 },
      { client: 'queue', err: refused, repeatedSinceLastLine: 48 },
    ]);
  });
});

describe("redisConnectionWarnings' TLS hint", () => {
  const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
  const timedOut = Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' });
  const hintsOf = (options: { tls: boolean; reached: () => boolean }, error: Error) => {
    const lines: Array<Record<string, unknown>> = [];
    redisConnectionWarnings(
      { warn: (fields: Record<string, unknown>) => lines.push(fields) } as never,
      options,
    )(error, 'redis');
    return lines.map((line) => line.hint);
  };

  it('names the other scheme while the process has never reached Redis', () => {
    expect(hintsOf({ tls: false, reached: () => false }, reset)).toEqual([
      expect.stringContaining('rediss://'),
    ]);
    expect(hintsOf({ tls: true, reached: () => false }, timedOut)).toEqual([
      expect.stringContaining('redis://'),
    ]);
  });

  it('names none once it has: a reset or a timed-out reconnect is then Redis or the network', () => {
    expect(hintsOf({ tls: false, reached: () => true }, reset)).toEqual([undefined]);
    expect(hintsOf({ tls: true, reached: () => true }, timedOut)).toEqual([undefined]);
  });
});

describe('repeatedLogPerKey', () => {
  it('keeps one line state a key, and at most 64 of them: keys come from errors', () => {
    const perKey = repeatedLogPerKey();
    let made = 0;
    const make = () => {
      made += 1;
      return repeatedLog({ warn: () => {} } as never, 'failed');
    };
    const first = perKey('append:OOM', make);
    expect(perKey('append:OOM', make)).toBe(first);
    for (let i = 0; i < 63; i += 1) perKey(`append:cause ${i}`, make);
    expect(made).toBe(64);
    expect(perKey('append:OOM', make)).toBe(first);
    // A 65th key starts afresh: an error naming something new each time cannot grow the map.
    perKey('append:one more', make);
    expect(perKey('append:OOM', make)).not.toBe(first);
  });
});
