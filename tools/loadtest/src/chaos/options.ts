import { parseArgs } from 'node:util';
import { OUTPUT_FORMATS, type OutputFormat, parseDuration } from '@spool/shared';
import { MAX_CHAOS_SHARDS } from './chaos-stack.js';

export interface ChaosOptions {
  durationMs: number;
  faultMs: number;
  s3OutageMs: number;
  concurrency: number;
  fsync: 'always' | 'everysec';
  cluster: boolean;
  minReplicasAck: number;
  format: OutputFormat;
  shards: number;
}

const parseOptions = (args: string[]) =>
  parseArgs({
    args,
    options: {
      duration: { type: 'string', default: '60s' },
      fsync: { type: 'string', default: 'always' },
      's3-outage': { type: 'string', default: '30s' },
      fault: { type: 'string', default: '5s' },
      concurrency: { type: 'string', default: '20' },
      cluster: { type: 'boolean', default: false },
      'min-replicas-ack': { type: 'string', default: '0' },
      format: { type: 'string', default: 'ndjson.gz' },
      shards: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });

/** The chaos run's options from its command line, what is wrong with them (one problem), or a call for help. */
export function parseChaosOptions(args: string[]): ChaosOptions | { problem: string } | { help: true } {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(args);
  } catch (error) {
    // An unknown option (`--shard 2`) or one without its value threw: a stack trace for an answer.
    return { problem: (error as Error).message.split('\n')[0] ?? String(error) };
  }
  const { values } = parsed;
  if (values.help) return { help: true };
  const durationMs = parseDuration(values.duration) ?? Number.NaN;
  const faultMs = parseDuration(values.fault) ?? Number.NaN;
  const s3OutageMs = parseDuration(values['s3-outage']) ?? Number.NaN;
  const concurrency = Number(values.concurrency);
  const fsync = values.fsync;
  const cluster = values.cluster === true;
  const minReplicasAck = Number(values['min-replicas-ack']);
  const format = OUTPUT_FORMATS.find((name) => name === values.format);
  const shards = Number(values.shards);
  const problem = [
    [!Number.isFinite(durationMs), '--duration: expected a duration such as 60s or 2m'],
    [!Number.isFinite(faultMs), '--fault: expected a duration such as 5s'],
    [!Number.isFinite(s3OutageMs), '--s3-outage: expected a duration such as 30s'],
    [
      !(Number.isInteger(concurrency) && concurrency >= 1),
      '--concurrency: expected a whole number of at least 1',
    ],
    [fsync !== 'always' && fsync !== 'everysec', '--fsync: expected always or everysec'],
    [!(minReplicasAck === 0 || minReplicasAck === 1), '--min-replicas-ack: expected 0 or 1'],
    [minReplicasAck > 0 && !cluster, '--min-replicas-ack: only with --cluster (its masters have replicas)'],
    [format === undefined, `--format: expected ${OUTPUT_FORMATS.join(', ')}`],
    [
      !(Number.isInteger(shards) && shards >= 1 && shards <= MAX_CHAOS_SHARDS),
      `--shards: expected a whole number from 1 to ${MAX_CHAOS_SHARDS}`,
    ],
  ].find(([failed]) => failed)?.[1];
  if (typeof problem === 'string') return { problem };
  return {
    durationMs,
    faultMs,
    s3OutageMs,
    concurrency,
    fsync: fsync as 'always' | 'everysec',
    cluster,
    minReplicasAck,
    format: format as OutputFormat,
    shards,
  };
}
