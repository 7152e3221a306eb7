import { describe, expect, it } from '@jest/globals';
import { parseOptions } from './options.js';

describe('loadtest options', () => {
  it('defaults to 30 s of load from 100 clients against a stack of its own, verified', () => {
    expect(parseOptions([])).toMatchObject({
      url: undefined,
      durationMs: 30_000,
      concurrency: 100,
      eventsPerRequest: 100,
      verify: true,
    });
  });

  it('reads sizes and durations with units', () => {
    expect(parseOptions(['--target-buffer', '500MB', '--concurrency', '8', '--no-verify'])).toMatchObject({
      targetBufferBytes: 500_000_000,
      durationMs: undefined,
      concurrency: 8,
      verify: false,
    });
  });

  it.each([
    [['--concurrency', '0'], /--concurrency: expected a whole number of at least 1/],
    [['--target-buffer', 'huge'], /--target-buffer: expected a size/],
    [['--duration', 'soon'], /--duration: expected a duration/],
    [['--event-bytes', '10'], /--event-bytes: expected a whole number of at least 120/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('refuses %p naming the option', (argv, message) => {
    expect(() => parseOptions(argv)).toThrow(message);
  });
});
