import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { redisConnectionWarnings, repeatedLog, repeatedLogPerKey } from './repeated-log.js';

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

describe('repeatedLog', () => {
  it('logs the first warning, then one line per interval counting those it left out', () => {
    const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const warn = repeatedLog(
      {
        warn: (fields: Record<string, unknown>, message: string) => lines.push({ fields, message }),
      } as never,
      'worker error',
      { everyMs: 10_000 },
    );
    const oom = new Error('OOM command not allowed');
    for (let i = 0; i < 2_200; i += 1) warn(oom);
    expect(lines).toEqual([{ fields: { err: oom }, message: 'worker error' }]);

    jest.advanceTimersByTime(10_000);
    warn(oom);
    expect(lines).toHaveLength(2);
    expect(lines[1]?.fields).toEqual({ err: oom, repeatedSinceLastLine: 2_199 });
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
    warn(refused, 'queue');
    expect(lines[2]).toEqual({ client: 'queue', err: refused, repeatedSinceLastLine: 49 });
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
