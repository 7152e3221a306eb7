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

  it("reads a running stack's Redis Cluster from --cluster (its loadtest once died on MOVED), else one server", () => {
    expect(
      parseOptions(['--url', 'http://127.0.0.1:8200', '--cluster', '127.0.0.1:7200,127.0.0.1:7201']),
    ).toMatchObject({
      redis: {
        kind: 'cluster',
        nodes: [
          { host: '127.0.0.1', port: 7200 },
          { host: '127.0.0.1', port: 7201 },
        ],
      },
    });
    expect(parseOptions(['--redis-url', 'redis://127.0.0.1:6500'])).toMatchObject({
      redis: { kind: 'standalone', url: 'redis://127.0.0.1:6500' },
    });
  });

  it.each([
    [['--cluster', '127.0.0.1'], /--cluster: /],
    [['--concurrency', '0'], /--concurrency: expected a whole number of at least 1/],
    [['--target-buffer', 'huge'], /--target-buffer: expected a size/],
    [['--duration', 'soon'], /--duration: expected a duration/],
    [['--event-bytes', '10'], /--event-bytes: expected a whole number of at least 120/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('refuses %p naming the option', (argv, message) => {
    expect(() => parseOptions(argv)).toThrow(message);
  });
});
