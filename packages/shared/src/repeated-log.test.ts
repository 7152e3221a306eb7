import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { redisConnectionWarnings, repeatedLog } from './repeated-log.js';

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
