import { parseArgs } from 'node:util';
import { parseClusterNodes, parseDuration, parseSize, type RedisTarget } from '@spool/shared';
import { LOCAL_S3_CREDENTIALS } from '@spool/testkit/local-stack';

export interface LoadtestOptions {
  /** Ingest URL; unset: the loadtest starts a stack of its own. */
  url: string | undefined;
  /** That stack's Redis: a cluster (--cluster, or REDIS_CLUSTER_NODES), else one server. */
  redis: RedisTarget;
  s3Endpoint: string;
  s3Bucket: string;
  /** The stack's S3_PREFIX: where its objects are. */
  s3Prefix: string;
  /** Sent as `Authorization: Bearer <key>` to a stack that has WRITE_KEYS. */
  writeKey: string | undefined;
  s3AccessKey: string;
  s3SecretKey: string;
  namespace: string;
  concurrency: number;
  requests: number | undefined;
  durationMs: number | undefined;
  eventsPerRequest: number;
  eventBytes: number;
  streams: number;
  /** Stop once every stream's buffer holds this much (and size the own stack's threshold to it). */
  targetBufferBytes: number | undefined;
  verify: boolean;
  landTimeoutMs: number;
  out: string;
}

export const USAGE = `spool loadtest — rehearse production load, then prove nothing was lost or doubled

  make loadtest ARGS="--target-buffer 500MB --concurrency 100"
  pnpm loadtest [options]

Load (one of --requests, --duration, --target-buffer; default --duration 30s):
  --requests N            total requests
  --duration 30s          how long to send
  --target-buffer 500MB   until every stream's buffer holds this much (own stack: threshold set to it)
  --concurrency 100       concurrent clients (keep-alive connections)
  --events-per-request 100
  --event-bytes 200       approximate size of one event as stored
  --streams 1             streams the load is spread over

Stack (default: start its own: redis-server, an s3rver, ingest and flusher, in a temporary folder):
  --url http://127.0.0.1:8080   an ingest already running (e.g. make dev's); verification then
  --redis-url redis://127.0.0.1:6390 --s3-endpoint http://127.0.0.1:9000 --bucket spool --prefix ''
  --cluster host:port,...       its Redis Cluster's nodes, instead of --redis-url (default: REDIS_CLUSTER_NODES)
  --write-key KEY               a key of its WRITE_KEYS for any stream (\`*\`): the load's streams
                                 are named by its run (<run>-s0, …), new each run
  --s3-access-key ${LOCAL_S3_CREDENTIALS.accessKeyId} --s3-secret-key ${LOCAL_S3_CREDENTIALS.secretAccessKey} --namespace spool
                                 reads that stack's Redis and S3 (these defaults are make dev's,
                                 on SPOOL_DEV_REDIS_PORT and SPOOL_DEV_S3_PORT when set)

Verification:
  --no-verify             only send load
  --land-timeout 5m       how long to wait for everything accepted to land in S3

Output:
  --out bench/results     where the JSON summary is written
`;

function clusterOption(value: string): RedisTarget {
  try {
    return parseClusterNodes(value);
  } catch (error) {
    throw new Error(`--cluster: ${(error as Error).message}`);
  }
}

function number(value: string | undefined, name: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min)
    throw new Error(`--${name}: expected a whole number of at least ${min}; got "${value}"`);
  return parsed;
}

function size(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const bytes = parseSize(value);
  if (!bytes) throw new Error(`--${name}: expected a size such as 500MB or 64MiB; got "${value}"`);
  return bytes;
}

function duration(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (!ms) throw new Error(`--${name}: expected a duration such as 30s or 5m; got "${value}"`);
  return ms;
}

/** Parses the command line; throws with a message naming the bad option. */
export function parseOptions(argv: string[]): LoadtestOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      url: { type: 'string' },
      // make dev's, on the ports it was given (SPOOL_DEV_REDIS_PORT, SPOOL_DEV_S3_PORT).
      'redis-url': {
        type: 'string',
        default: `redis://127.0.0.1:${process.env.SPOOL_DEV_REDIS_PORT ?? 6390}`,
      },
      cluster: { type: 'string', default: process.env.REDIS_CLUSTER_NODES || undefined },
      's3-endpoint': { type: 'string', default: `http://127.0.0.1:${process.env.SPOOL_DEV_S3_PORT ?? 9000}` },
      bucket: { type: 'string', default: 'spool' },
      prefix: { type: 'string', default: '' },
      'write-key': { type: 'string' },
      's3-access-key': { type: 'string', default: LOCAL_S3_CREDENTIALS.accessKeyId },
      's3-secret-key': { type: 'string', default: LOCAL_S3_CREDENTIALS.secretAccessKey },
      namespace: { type: 'string', default: 'spool' },
      concurrency: { type: 'string', default: '100' },
      requests: { type: 'string' },
      duration: { type: 'string' },
      'target-buffer': { type: 'string' },
      'events-per-request': { type: 'string', default: '100' },
      'event-bytes': { type: 'string', default: '200' },
      streams: { type: 'string', default: '1' },
      'no-verify': { type: 'boolean', default: false },
      'land-timeout': { type: 'string', default: '5m' },
      out: { type: 'string', default: 'bench/results' },
    },
  });
  if (values.help) return 'help';
  const requests = number(values.requests, 'requests');
  const targetBufferBytes = size(values['target-buffer'], 'target-buffer');
  let durationMs = duration(values.duration, 'duration');
  if (requests === undefined && targetBufferBytes === undefined && durationMs === undefined)
    durationMs = 30_000;
  const eventBytes = number(values['event-bytes'], 'event-bytes', 120) as number;
  return {
    url: values.url,
    redis: values.cluster ? clusterOption(values.cluster) : { kind: 'standalone', url: values['redis-url'] },
    s3Endpoint: values['s3-endpoint'],
    s3Bucket: values.bucket,
    s3Prefix: values.prefix,
    writeKey: values['write-key'],
    s3AccessKey: values['s3-access-key'],
    s3SecretKey: values['s3-secret-key'],
    namespace: values.namespace,
    concurrency: number(values.concurrency, 'concurrency') as number,
    requests,
    durationMs,
    eventsPerRequest: number(values['events-per-request'], 'events-per-request') as number,
    eventBytes,
    streams: number(values.streams, 'streams') as number,
    targetBufferBytes,
    verify: !values['no-verify'],
    landTimeoutMs: duration(values['land-timeout'], 'land-timeout') as number,
    out: values.out,
  };
}
