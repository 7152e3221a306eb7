import { describe, expect, it } from '@jest/globals';
import { parseChaosOptions } from './options.js';

describe('chaos options', () => {
  it('defaults to a minute of load from 20 clients on one Redis, fsync always, gzip, unsharded', () => {
    expect(parseChaosOptions([])).toEqual({
      durationMs: 60_000,
      faultMs: 5_000,
      s3OutageMs: 30_000,
      concurrency: 20,
      fsync: 'always',
      cluster: false,
      minReplicasAck: 0,
      format: 'ndjson.gz',
      shards: 1,
    });
    expect(parseChaosOptions(['--cluster', '--min-replicas-ack', '1', '--shards', '8'])).toMatchObject({
      cluster: true,
      minReplicasAck: 1,
      shards: 8,
    });
    expect(parseChaosOptions(['--help', '--shards', '99'])).toEqual({ help: true });
  });

  it.each([
    [['--duration', 'soon'], '--duration: expected a duration'],
    [['--fault', 'a while'], '--fault: expected a duration'],
    // Node's parseArgs throws on these: the run answered with a stack trace.
    [['--shard', '2'], "Unknown option '--shard'"],
    [['--fault', '-1s'], "Option '--fault' argument is ambiguous"],
    [['--duration'], "Option '--duration <value>' argument missing"],
    [['--s3-outage', ''], '--s3-outage: expected a duration'],
    [['--concurrency', '0'], '--concurrency: expected a whole number of at least 1'],
    [['--concurrency', '2.5'], '--concurrency: expected a whole number of at least 1'],
    [['--fsync', 'no'], '--fsync: expected always or everysec'],
    [['--min-replicas-ack', '2', '--cluster'], '--min-replicas-ack: expected 0 or 1'],
    [['--min-replicas-ack', '1'], '--min-replicas-ack: only with --cluster'],
    [['--format', 'csv'], '--format: expected ndjson.gz, ndjson.zst, parquet'],
    [['--shards', '0'], '--shards: expected a whole number from 1 to 8'],
    [['--shards', '9'], '--shards: expected a whole number from 1 to 8'],
    [['--shards', '1.5'], '--shards: expected a whole number from 1 to 8'],
    [['--shards', 'two'], '--shards: expected a whole number from 1 to 8'],
  ])('refuses %p, saying which option and what it takes', (args, says) => {
    const parsed = parseChaosOptions(args);
    expect(parsed).toEqual({ problem: expect.stringContaining(says) });
  });
});
