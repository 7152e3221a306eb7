import { describe, expect, it } from '@jest/globals';
import { parseSoakOptions } from './options.js';

describe('soak options', () => {
  it('defaults to 30 minutes, a sample a minute, 10 clients; reads units', () => {
    expect(parseSoakOptions([])).toEqual({
      durationMs: 1_800_000,
      everyMs: 60_000,
      concurrency: 10,
      format: 'ndjson.gz',
    });
    expect(
      parseSoakOptions(['--duration', '5m', '--every', '30s', '--concurrency', '3', '--format', 'parquet']),
    ).toEqual({ durationMs: 300_000, everyMs: 30_000, concurrency: 3, format: 'parquet' });
    expect(parseSoakOptions(['-h', '--every', 'never'])).toEqual({ help: true });
  });

  it.each([
    [['--duration', 'long'], '--duration: expected a duration'],
    [['--duration', '0'], '--duration: expected a duration'],
    [['--every', 'often'], '--every: expected a duration'],
    [['--concurrency', '0'], '--concurrency: expected a whole number of at least 1'],
    [['--format', 'csv'], '--format: expected ndjson.gz, ndjson.zst, parquet'],
    // Node's parseArgs throws on these: the run answered with a stack trace.
    [['--minutes', '5'], "Unknown option '--minutes'"],
    [['--every'], "Option '--every <value>' argument missing"],
  ])('refuses %p, saying which option and what it takes', (args, says) => {
    expect(parseSoakOptions(args)).toEqual({ problem: expect.stringContaining(says) });
  });
});
