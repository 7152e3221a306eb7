import { describe, expect, it } from '@jest/globals';
import { until } from './wait.js';

describe('until', () => {
  it('resolves once the check passes, counting a failing check as not yet', async () => {
    let calls = 0;
    await until('the third call', async () => {
      calls += 1;
      if (calls < 3) throw new Error('not yet');
      return true;
    });
    expect(calls).toBe(3);
  });

  it('says why the last failing check failed when it gives up', async () => {
    const check = async (): Promise<boolean> => {
      throw new Error('/readyz answered 503 {"status":"not ready"}');
    };
    await expect(until('ingest-1', check, 200)).rejects.toThrow(
      'timed out after 200 ms waiting for ingest-1 (last: /readyz answered 503 {"status":"not ready"})',
    );
  });

  it('says nothing more when the last check answered no without failing', async () => {
    await expect(until('a flag', async () => false, 200)).rejects.toThrow(
      /^timed out after 200 ms waiting for a flag$/,
    );
  });
});
