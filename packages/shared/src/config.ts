import leven from 'leven';
import { z } from 'zod';
import {
  adminKeys,
  awsCredential,
  boolean,
  duration,
  httpUrl,
  integer,
  listenHost,
  type MemoryReserve,
  memoryReserve,
  metricsHosts,
  type OutputFormat,
  outputFormat,
  redisNamespace,
  redisUrl,
  s3Region,
  size,
  sizeText,
  streamShards,
  type TrustProxy,
  trustProxy,
  type WriteKey,
  writeKeys,
} from './config-fields.js';
import { keyPrefixProblem } from './key-prefix.js';
import { DEFAULT_NAMESPACE } from './keys.js';
import type { PerStream } from './per-stream.js';
import { parseClusterNodes, type RedisTarget } from './redis-target.js';
import {
  FILE_SETTINGS,
  type FileSetting,
  fileSettingName,
  readSettingFiles,
  type SettingFile,
} from './setting-files.js';
import { isValidStreamName } from './stream-name.js';
import { type StreamShards, shardLimits } from './stream-shards.js';

export type { OutputFormat, TrustProxy, WriteKey } from './config-fields.js';

/**
 * Spool's configuration: environment variables only, parsed once at start-up and frozen. A bad
 * value stops the process with a message naming the variable and what it expected.
 */

const MiB = 1024 * 1024;
/** Redis refuses to grow a string past 512 MiB. */
export const REDIS_STRING_LIMIT = 512 * MiB;

/**
 * What one request may add to Redis, as a multiple of MAX_BODY_BYTES. Server fields add about
 * 90 bytes an event, and numbers may grow when re-serialized (`9e15` is stored as its 16 digits);
 * this bounds both.
 */
export const STORED_BYTES_PER_BODY_BYTE = 2;

/**
 * MAX_INFLIGHT_BYTES's default, in bodies of the largest size: each takes some 20 times its size
 * in the ingest's memory until answered (measured: docs/operations.md), so 16 MiB of bodies keeps
 * the ingest within the Kubernetes base's 512 MiB limit.
 */
const INFLIGHT_BODIES_PER_MAX_BODY = 16;

/** MAX_EVENT_BYTES's least: room for the fields the server adds, and a small event besides. */
const MIN_MAX_EVENT_BYTES = 1024;
/** FLUSH_THRESHOLD_BYTES's least: below it, a unit forgotten (`32`), not a threshold. */
const MIN_FLUSH_THRESHOLD_BYTES = 1024;

/** GROUP_COMMIT_WINDOW's most: a request's answer waits for it, and a window of seconds is a slip of units. */
const MAX_GROUP_COMMIT_WINDOW_MS = 100;

const schema = z.object({
  /** Redis or Valkey URL. */
  REDIS_URL: redisUrl,
  /** Seed nodes of a Redis / Valkey Cluster (`host:port,…`, or URLs for credentials and TLS): Cluster mode. */
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return undefined;
      try {
        return parseClusterNodes(text);
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `expected host:port,host:port,…: ${(error as Error).message}`,
        });
        return z.NEVER;
      }
    }),
  /** Replicas that must confirm an append (Redis WAIT) before the ingest answers 202, and a seal before the flusher reads it; 0 = the primary's word. */
  REDIS_MIN_REPLICAS_ACK: integer(0, 0, 16),
  /** Prefix of every key (and `{<ns>}` of the queue): deployments with different namespaces share a Redis. */
  REDIS_NAMESPACE: redisNamespace.default(DEFAULT_NAMESPACE),
  /** Listen address of this process's HTTP server. */
  HOST: listenHost,
  /** Listen port (ingest default 8080, flusher 9091). */
  PORT: z.string().optional(),
  /** The ingest's /metrics on a port of its own (off its public one); unset, on PORT. */
  METRICS_PORT: z.string().optional(),
  /** Names /metrics answers besides IP addresses and localhost (`spool-ingest,*.svc.cluster.local`, or `*`). */
  METRICS_HOSTS: metricsHosts,
  /** Bytes: a buffer whose length (as APPEND returns it) reaches this gets a flush job. */
  FLUSH_THRESHOLD_BYTES: size('32MiB'),
  /** Milliseconds: a non-empty buffer is flushed at least this often. */
  FLUSH_INTERVAL: duration('5m'),
  /** Bytes: appends that would take a buffer past this are refused with 503 (default 4 × threshold). */
  MAX_BUFFER_BYTES: sizeText.optional(),
  /** Sub-buffers a stream is split over (`4`, or `web:4,*:1`): each on its own slot, for streams one Redis core cannot carry. */
  STREAM_SHARDS: streamShards,
  /** Bytes: the largest single event, as stored (one line, server fields included). */
  MAX_EVENT_BYTES: size('32KiB'),
  /** Bytes: the largest request body, after decompression. */
  MAX_BODY_BYTES: size('1MiB'),
  /** Bytes: the request bodies one ingest holds at once (INFLIGHT_BODIES_PER_MAX_BODY × MAX_BODY_BYTES by default). */
  MAX_INFLIGHT_BYTES: sizeText.optional(),
  /** Who may write where: `key:stream,stream;key2:*`. The ingest needs it, or ALLOW_ANONYMOUS_WRITES. */
  WRITE_KEYS: writeKeys,
  /** Keys for the flusher's status page (`/status`, `/status.json`): `key1,key2`; unset, the page is open. */
  ADMIN_KEYS: adminKeys,
  /** Without WRITE_KEYS the ingest refuses to start unless this says the service is meant to be open. */
  ALLOW_ANONYMOUS_WRITES: boolean(false),
  /** Events: the most one request may carry (Segment's batch allows 2,500). */
  MAX_EVENTS_PER_REQUEST: integer(2_500, 1, 100_000),
  /** Rejected events a stream keeps for S3 (`_quarantine/`), the newest; 0 keeps none. */
  QUARANTINE_MAX_EVENTS: integer(1_000, 0, 10_000),
  /** Milliseconds: a messageId a stream accepted this recently is not stored again; 0 turns dedupe off. */
  DEDUPE_WINDOW: duration('10m'),
  /** Which proxies' X-Forwarded-For gives the client address (rate limits, context.ip): `false`, or addresses. */
  TRUST_PROXY: trustProxy,
  /** The stream of the Segment-compatible API's messages when the key may write any stream (`*`) or the service is open. */
  DEFAULT_STREAM: z
    .string()
    .default('events')
    .refine(
      isValidStreamName,
      'expected a stream name: 1 to 64 of a-z, 0-9, "_" and "-", starting with a letter or digit',
    ),
  /** Bytes: the largest body of the Segment-compatible API after decompression (default MAX_BODY_BYTES: RudderStack's browser SDK sends up to 512 KiB, past Segment's 500 KB). */
  MAX_BATCH_BYTES: sizeText.optional(),
  /** What the Segment-compatible API stores of a client's IP (context.ip): `keep`, `truncate` (last octet / last 80 bits zeroed) or `drop`. */
  IP_POLICY: z.enum(['keep', 'truncate', 'drop']).default('keep'),
  /** Milliseconds: how long concurrent appends to one stream wait to share a Redis round trip (0 = same tick). */
  GROUP_COMMIT_WINDOW: duration('0'),
  /** Requests per RATE_LIMIT_WINDOW per write key (per client IP when the service is open); 0 = no limit. */
  RATE_LIMIT_MAX: integer(0, 0, 1_000_000_000),
  /** Milliseconds: the rate limit's window. */
  RATE_LIMIT_WINDOW: duration('1s'),
  /** Milliseconds: a Redis command that takes longer fails (the request gets 503). */
  // Past the 2 s that Redis holds writes while an everysec AOF's fsync lags (and a rewrite's fork):
  // at 1 s, the shipped AOF Redis timed out ~1 MB appends under load, 503 "may be stored" and a
  // dropped connection each time (a review's runs; none at 3 s).
  REDIS_COMMAND_TIMEOUT: duration('3s'),
  /** Room appends leave free below Redis's maxmemory, for the flushers to drain: `10%`, `256MiB`, or `0`. */
  REDIS_MEMORY_RESERVE: memoryReserve,
  /** What objects are written as: `ndjson.gz`, `ndjson.zst`, `parquet`, or by stream (`web:parquet,*:ndjson.gz`). */
  OUTPUT_FORMAT: outputFormat,
  /** Target bucket (required by the flusher). */
  S3_BUCKET: z
    .string()
    // Looser than AWS's rules for new buckets (3-63 of a-z, 0-9, "." and "-"): older AWS buckets and
    // other stores allow capitals and "_". Anything else is a typo (a prefix in the bucket's name,
    // `events/prod`, a space), which the AWS SDK refused only at the first flush (InvalidBucketName):
    // the flusher started, said it was ready, and retried its flushes for good.
    // Starting and ending with a letter or digit, and no "..": S3's rule, which older buckets kept
    // too. The AWS SDK writes a bucket `..` or `.` into the path, which resolves to `/`: HeadBucket
    // became ListBuckets and answered 200, so the flusher said it was ready and every flush failed.
    .regex(
      /^(?!.*\.\.)[A-Za-z0-9](?:[A-Za-z0-9._-]{0,253}[A-Za-z0-9])?$/,
      'expected a bucket name: 1 to 255 of A-Z, a-z, 0-9, ".", "_" and "-", starting and ending with a letter or digit, without ".."',
    )
    .optional(),
  /** Object key prefix, e.g. `events/`. */
  S3_PREFIX: z.string().default(''),
  /** S3-compatible endpoint URL (MinIO, Ceph RGW, R2, …); unset = AWS. */
  S3_ENDPOINT: httpUrl.optional(),
  /** S3 region; unset: AWS_REGION's (the AWS SDKs' variable), else us-east-1. */
  S3_REGION: s3Region.optional(),
  /** The AWS SDKs' region variable: S3_REGION's default. */
  AWS_REGION: s3Region.optional(),
  /** S3 credentials, read by the AWS SDK: checked here only for what no key holds. */
  AWS_ACCESS_KEY_ID: awsCredential,
  AWS_SECRET_ACCESS_KEY: awsCredential,
  AWS_SESSION_TOKEN: awsCredential,
  /** Path-style addressing (most S3-compatible stores need it). */
  S3_FORCE_PATH_STYLE: boolean(false),
  /** Milliseconds: first delay before a failed flush is retried; each retry doubles it. */
  FLUSH_RETRY_BASE: duration('1s'),
  /** Milliseconds: the longest delay between retries of a failed flush (flushes never give up). */
  FLUSH_RETRY_MAX: duration('5m'),
  /** `when_required` (works with every S3-compatible store) or `when_supported` (AWS's default, adds CRC checksums). */
  S3_CHECKSUMS: z.enum(['when_required', 'when_supported']).default('when_required'),
  /** Bytes: multipart part size (S3's bounds: 5MiB to 5GiB); a flush holds at most 4 parts in memory (2 in flight). */
  S3_PART_SIZE: size('8MiB'),
  /** Milliseconds: an S3 connection that sends and receives nothing this long fails (the flush retries). */
  S3_TIMEOUT: duration('60s'),
  /** Server-side encryption asked for on every object Spool writes; unset: the bucket's default. */
  S3_SERVER_SIDE_ENCRYPTION: z.enum(['AES256', 'aws:kms', 'aws:kms:dsse']).optional(),
  /** The KMS key (id, ARN or alias) for aws:kms and aws:kms:dsse; unset: the account's AWS managed key. */
  S3_SSE_KMS_KEY_ID: z
    .string()
    .regex(/^[\x21-\x7e]{1,2048}$/, 'expected a KMS key id, ARN or alias: visible ASCII, no spaces')
    .optional(),
  /** Milliseconds: a flush whose worker stops renewing its lock this long (a crashed flusher) is taken over by another. */
  FLUSH_LOCK_DURATION: duration('30s'),
  /** Flush jobs run at once by one flusher process. */
  FLUSH_CONCURRENCY: integer(2, 1, 64),
  /** pino level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface Config {
  redis: RedisTarget;
  /** Replicas that must confirm an append before it is acknowledged (WAIT); 0: none. */
  minReplicasAck: number;
  namespace: string;
  host: string;
  port: number;
  /** METRICS_PORT: where the ingest serves /metrics instead of on `port`; undefined, on `port`. */
  metricsPort: number | undefined;
  /** METRICS_HOSTS: the names /metrics answers besides IP addresses and localhost. */
  metricsHosts: readonly string[];
  flushThresholdBytes: number;
  flushIntervalMs: number;
  maxBufferBytes: number;
  /** Sub-buffers per stream; the threshold and maximum above are divided among them. */
  streamShards: StreamShards;
  maxEventBytes: number;
  maxBodyBytes: number;
  /** The request bodies the ingest holds at once; past it, 503 SPOOL_OVERLOADED before reading one. */
  maxInflightBytes: number;
  /** The most one request's events may take as stored (STORED_BYTES_PER_BODY_BYTE × maxBodyBytes). */
  maxRequestStoredBytes: number;
  maxEventsPerRequest: number;
  writeKeys: readonly WriteKey[];
  adminKeys: readonly string[];
  /** The settings read from a file (`<NAME>_FILE`), each with its file: the key files are watched. */
  settingFiles: Readonly<Partial<Record<FileSetting, Readonly<SettingFile>>>>;
  quarantineMaxEvents: number;
  allowAnonymousWrites: boolean;
  /** 0: dedupe off. */
  dedupeWindowMs: number;
  trustProxy: TrustProxy;
  /** The Segment-compatible API: where `*` keys and open services write, its body limit, and client IPs. */
  tracking: { defaultStream: string; maxBatchBytes: number; ipPolicy: 'keep' | 'truncate' | 'drop' };
  groupCommitWindowMs: number;
  redisCommandTimeoutMs: number;
  /** REDIS_MEMORY_RESERVE: appends stop this short of Redis's maxmemory; undefined: none. */
  memoryReserve: MemoryReserve | undefined;
  rateLimit: { max: number; windowMs: number };
  /** The format of each stream's objects. */
  outputFormat: PerStream<OutputFormat>;
  s3: {
    bucket: string | undefined;
    prefix: string;
    endpoint: string | undefined;
    region: string;
    forcePathStyle: boolean;
    checksums: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';
    partBytes: number;
    /** S3_TIMEOUT: an idle connection's limit, and a new connection's. */
    timeoutMs: number;
    /** S3_SERVER_SIDE_ENCRYPTION and S3_SSE_KMS_KEY_ID, as every write asks for them; unset: none asked. */
    encryption: S3Encryption | undefined;
  };
  flushRetryBaseMs: number;
  flushRetryMaxMs: number;
  flushLockDurationMs: number;
  flushConcurrency: number;
  logLevel: string;
}

/** The encryption headers of a PutObject or CreateMultipartUpload, in the AWS SDK's names. */
export interface S3Encryption {
  ServerSideEncryption: 'AES256' | 'aws:kms' | 'aws:kms:dsse';
  SSEKMSKeyId?: string;
}

/** S3_TIMEOUT's longest: a day. */
const S3_TIMEOUT_MAX_MS = 24 * 3_600_000;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type SpoolProcess = 'ingest' | 'flusher';
const DEFAULT_PORTS: Record<SpoolProcess, number> = { ingest: 8080, flusher: 9091 };

/** Settings only the ingest reads (README's "read by" column; config.test holds the two to it). */
const INGEST_ONLY_KEYS = [
  'METRICS_PORT',
  'MAX_EVENT_BYTES',
  'MAX_INFLIGHT_BYTES',
  'WRITE_KEYS',
  'WRITE_KEYS_FILE',
  'ALLOW_ANONYMOUS_WRITES',
  'MAX_EVENTS_PER_REQUEST',
  'DEDUPE_WINDOW',
  'RATE_LIMIT_MAX',
  'RATE_LIMIT_WINDOW',
  'TRUST_PROXY',
  'DEFAULT_STREAM',
  'MAX_BATCH_BYTES',
  'IP_POLICY',
  'GROUP_COMMIT_WINDOW',
  'REDIS_COMMAND_TIMEOUT',
  'REDIS_MEMORY_RESERVE',
] as const;

/** Settings only the flusher reads (and the CLI's verify, replay and status, which read as it does). */
const FLUSHER_ONLY_KEYS = [
  'FLUSH_INTERVAL',
  'S3_BUCKET',
  'S3_PREFIX',
  'OUTPUT_FORMAT',
  'S3_ENDPOINT',
  'S3_REGION',
  'AWS_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'S3_FORCE_PATH_STYLE',
  'FLUSH_CONCURRENCY',
  'FLUSH_RETRY_BASE',
  'FLUSH_RETRY_MAX',
  'FLUSH_LOCK_DURATION',
  'S3_PART_SIZE',
  'S3_TIMEOUT',
  'S3_CHECKSUMS',
  'S3_SERVER_SIDE_ENCRYPTION',
  'S3_SSE_KMS_KEY_ID',
  'ADMIN_KEYS',
  'ADMIN_KEYS_FILE',
] as const;

/**
 * Settings only the other process uses, which this one does not read: one shared environment (a
 * ConfigMap, compose's) must not stop a process over a setting it never uses. A typo in a
 * flusher-only value crash-looped the internet-facing ingest, and the other way round.
 */
export const OTHER_PROCESS_KEYS: Record<SpoolProcess, readonly string[]> = {
  ingest: FLUSHER_ONLY_KEYS,
  flusher: INGEST_ONLY_KEYS,
};

/**
 * A port's text as a number, or -1 when it is not 1 to 5 digits: Number() reads " " as 0 (a
 * random port) and "0x50" as 80.
 */
function portNumber(text: string): number {
  return /^\d{1,5}$/.test(text) ? Number(text) : -1;
}

/**
 * The prefixes of Spool's settings that are its own: a variable under one of them that Spool
 * does not read is most likely a misspelled setting (`REDIS_NAMESPCE`, `FLUSH_THRESHOLD`,
 * `MAX_BUFFER_SIZE`), which was ignored in silence, its default used instead.
 */
const OWN_PREFIXES =
  /^(?:REDIS|S3|FLUSH|MAX|DEDUPE|OUTPUT|QUARANTINE|STREAM|WRITE|ADMIN|GROUP_COMMIT|RATE_LIMIT|TRUST|IP|METRICS)_/;
/** Under those prefixes, and not Spool's: Kubernetes's service links (a Service named `redis`), KEDA's. */
const OTHERS_UNDER_OWN_PREFIXES =
  /_(?:SERVICE_HOST|SERVICE_PORT(?:_\w+)?|PORT(?:_\d+_(?:TCP|UDP|SCTP)\w*)?)$|^REDIS_PASSWORD$/;

/**
 * Settings under no prefix of their own (`LOG_` and the like are other software's as often): a
 * variable is said as a typo of one when it is the same in another case, or has the same first
 * word and is within two letters of it, or (`DEFAULT_STREAM`, the one whose typo costs data)
 * holds it. `DEFAULT_STREM=web` sent the `*` keys' messages to `events`, in silence. Other
 * software's `LOGLEVEL`, `JOB_LEVEL` or `NGINX_LOG_LEVEL` is not said.
 */
const UNPREFIXED_SETTINGS = ['DEFAULT_STREAM', 'ALLOW_ANONYMOUS_WRITES', 'LOG_LEVEL'];

const firstWord = (name: string) => name.split('_', 1)[0];

function nearUnprefixedSetting(name: string): boolean {
  const upper = name.toUpperCase();
  return UNPREFIXED_SETTINGS.some(
    (setting) =>
      name !== setting &&
      (upper === setting ||
        (firstWord(upper) === firstWord(setting) && leven(upper, setting) <= 2) ||
        (setting === 'DEFAULT_STREAM' && upper.includes(setting))),
  );
}

/** Every setting's name: the schema's, and the `_FILE` variables that may stand for some (setting-files.ts). */
export const SETTINGS: readonly string[] = [
  ...Object.keys(schema.shape),
  ...Object.keys(FILE_SETTINGS).map((name) => fileSettingName(name as FileSetting)),
];

/**
 * The settings under a prefix of Spool's, and AWS_REGION: those whose typos the prefixes miss when
 * the typo is in the prefix itself (`DEDUP_WINDOW`, `STREAMS_SHARDS`, `S3BUCKET`, `AWS_REGON`).
 */
const PREFIXED_SETTINGS = SETTINGS.filter((name) => OWN_PREFIXES.test(name) || name === 'AWS_REGION');

/**
 * The setting `name` is a letter from (two, for a setting of 10 letters or more), or is in another
 * case, or undefined: what the start-up warning suggests.
 */
export function nearestSetting(name: string): string | undefined {
  const upper = name.toUpperCase();
  let nearest: string | undefined;
  let nearestDistance = Number.POSITIVE_INFINITY;
  for (const setting of [...PREFIXED_SETTINGS, ...UNPREFIXED_SETTINGS]) {
    const distance = leven(upper, setting);
    if (name !== setting && distance <= (setting.length >= 10 ? 2 : 1) && distance < nearestDistance) {
      nearest = setting;
      nearestDistance = distance;
    }
  }
  return nearest;
}

/** The variables of `env` that look like Spool's settings and are none: said at start (typos). */
export function unknownSettings(env: NodeJS.ProcessEnv): string[] {
  const known = new Set(SETTINGS);
  const nearPrefixed = (name: string) => {
    const nearest = nearestSetting(name);
    return nearest !== undefined && PREFIXED_SETTINGS.includes(nearest);
  };
  // `AWS_SECRET_ACCESS_KEY_FILE`: a file form of a setting that has none (setting-files.ts), or its
  // secret would be looked for in vain. The SDK's own (`AWS_SHARED_CREDENTIALS_FILE`) are not ours.
  const fileOfSettingWithout = (name: string) =>
    name.endsWith('_FILE') && known.has(name.slice(0, -'_FILE'.length));
  return Object.keys(env)
    .filter(
      (name) =>
        !known.has(name) &&
        ((OWN_PREFIXES.test(name) && !OTHERS_UNDER_OWN_PREFIXES.test(name)) ||
          nearUnprefixedSetting(name) ||
          nearPrefixed(name) ||
          fileOfSettingWithout(name)),
    )
    .sort();
}

/** Reads and checks the configuration of one process; throws ConfigError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv, process: SpoolProcess): Readonly<Config> {
  // An empty variable means "not set", as in most shells' `VAR= cmd`. The other process's own
  // settings are not read (OTHER_PROCESS_KEYS).
  const present = Object.fromEntries(
    Object.entries(env).filter(
      ([name, value]) => value !== undefined && value !== '' && !OTHER_PROCESS_KEYS[process].includes(name),
    ),
  );
  const files = readSettingFiles(present);
  const given = { ...present, ...files.values };
  const parsed = schema.safeParse(given);
  const problems = [...files.problems];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0]);
      // A value read from a file is named by its variable too: the file is what to fix.
      const from = name in files.values ? ` (from ${fileSettingName(name as FileSetting)})` : '';
      problems.push(`${issue.path.join('.')}${from}: ${issue.message}`);
    }
  }
  if (!parsed.success || problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const v = parsed.data;
  const port = v.PORT === undefined ? DEFAULT_PORTS[process] : portNumber(v.PORT);
  if (port < 0 || port > 65535) problems.push(`PORT: expected 0 to 65535; got "${v.PORT}"`);
  const metricsPort = v.METRICS_PORT === undefined ? undefined : portNumber(v.METRICS_PORT);
  if (metricsPort !== undefined && !(metricsPort >= 1 && metricsPort <= 65535 && metricsPort !== port)) {
    problems.push(`METRICS_PORT: expected 1 to 65535, not PORT's; got "${v.METRICS_PORT}"`);
  }
  const maxRequestStoredBytes = STORED_BYTES_PER_BODY_BYTE * v.MAX_BODY_BYTES;
  // The append that crosses the threshold must always fit, or a buffer just below the threshold
  // would refuse every append and never get its flush job.
  const smallestMaxBuffer = v.FLUSH_THRESHOLD_BYTES + maxRequestStoredBytes;
  const maxBufferBytes =
    v.MAX_BUFFER_BYTES ??
    Math.min(Math.max(4 * v.FLUSH_THRESHOLD_BYTES, smallestMaxBuffer), REDIS_STRING_LIMIT);
  if (maxBufferBytes > REDIS_STRING_LIMIT) {
    problems.push(`MAX_BUFFER_BYTES: Redis strings stop at 512MiB; got ${maxBufferBytes} bytes`);
  } else if (maxBufferBytes < smallestMaxBuffer) {
    // The default follows the threshold, which a large MAX_BODY_BYTES may outgrow.
    const culprit =
      v.MAX_BUFFER_BYTES !== undefined
        ? 'MAX_BUFFER_BYTES'
        : maxRequestStoredBytes > v.FLUSH_THRESHOLD_BYTES
          ? 'MAX_BODY_BYTES'
          : 'FLUSH_THRESHOLD_BYTES';
    problems.push(
      `${culprit}: MAX_BUFFER_BYTES (${maxBufferBytes} bytes) must be at least FLUSH_THRESHOLD_BYTES + ${STORED_BYTES_PER_BODY_BYTE} × MAX_BODY_BYTES (${smallestMaxBuffer} bytes), so that the append crossing the threshold always fits`,
    );
  }
  // A request may send all its events to one shard: each shard's share must still take it.
  for (const [stream, shards] of [['*', v.STREAM_SHARDS.default] as const, ...v.STREAM_SHARDS.streams]) {
    const share = shardLimits({ flushThresholdBytes: v.FLUSH_THRESHOLD_BYTES, maxBufferBytes }, shards);
    if (shards > 1 && share.maxBufferBytes < share.flushThresholdBytes + maxRequestStoredBytes) {
      problems.push(
        `STREAM_SHARDS: ${stream}:${shards} leaves each shard ${share.maxBufferBytes} bytes of MAX_BUFFER_BYTES, under its share of the threshold + ${STORED_BYTES_PER_BODY_BYTE} × MAX_BODY_BYTES (${share.flushThresholdBytes + maxRequestStoredBytes} bytes): use fewer shards or a larger MAX_BUFFER_BYTES`,
      );
    }
  }
  // One body limit bounds what a request may store: the tracking API's may not pass the native one.
  const maxInflightBytes = v.MAX_INFLIGHT_BYTES ?? INFLIGHT_BODIES_PER_MAX_BODY * v.MAX_BODY_BYTES;
  if (maxInflightBytes < v.MAX_BODY_BYTES) {
    problems.push(`MAX_INFLIGHT_BYTES: must be at least MAX_BODY_BYTES (${v.MAX_BODY_BYTES} bytes)`);
  }
  // MAX_BODY_BYTES (1 MiB) by default, past Segment's 500 KB: RudderStack's browser SDK batches
  // up to 512 KiB (counted in characters), and a batch refused is a batch its SDK drops.
  const maxBatchBytes = v.MAX_BATCH_BYTES ?? v.MAX_BODY_BYTES;
  if (maxBatchBytes > v.MAX_BODY_BYTES) {
    problems.push(`MAX_BATCH_BYTES: must not exceed MAX_BODY_BYTES (${v.MAX_BODY_BYTES} bytes)`);
  }
  // A batch must hold its largest message: `500` (Segment's 500 KB without its unit) started,
  // and answered 413 to any batch past 500 bytes, which SDKs drop without retrying.
  if (v.MAX_BATCH_BYTES !== undefined && maxBatchBytes < v.MAX_EVENT_BYTES) {
    problems.push(
      `MAX_BATCH_BYTES: must be at least MAX_EVENT_BYTES (${v.MAX_EVENT_BYTES} bytes; a size without a unit is bytes); got ${maxBatchBytes}`,
    );
  }
  // `32` (the default's number without its unit) flushed an object per event or two.
  if (v.FLUSH_THRESHOLD_BYTES < MIN_FLUSH_THRESHOLD_BYTES) {
    problems.push(
      `FLUSH_THRESHOLD_BYTES: must be at least 1KiB (a size without a unit is bytes); got ${v.FLUSH_THRESHOLD_BYTES}`,
    );
  }
  // A process that does not read MAX_EVENT_BYTES (the flusher) has its default, which must not
  // refuse a small MAX_BODY_BYTES.
  if (!OTHER_PROCESS_KEYS[process].includes('MAX_EVENT_BYTES') && v.MAX_EVENT_BYTES > v.MAX_BODY_BYTES) {
    problems.push(`MAX_EVENT_BYTES: must not exceed MAX_BODY_BYTES (${v.MAX_BODY_BYTES} bytes)`);
  }
  // The server's fields alone take about 90 bytes an event: `32` (the default's number without its
  // unit) refused every native event, 400 or 413, which SDKs drop without retrying.
  if (v.MAX_EVENT_BYTES < MIN_MAX_EVENT_BYTES) {
    problems.push(
      `MAX_EVENT_BYTES: must be at least 1KiB (a size without a unit is bytes); got ${v.MAX_EVENT_BYTES}`,
    );
  }
  if (v.FLUSH_INTERVAL < 1000)
    problems.push(`FLUSH_INTERVAL: must be at least 1s; got ${v.FLUSH_INTERVAL}ms`);
  if (v.REDIS_COMMAND_TIMEOUT < 10) problems.push('REDIS_COMMAND_TIMEOUT: must be at least 10ms');
  if (v.FLUSH_RETRY_BASE < 10 || v.FLUSH_RETRY_BASE > v.FLUSH_RETRY_MAX) {
    problems.push('FLUSH_RETRY_BASE: must be at least 10ms and not above FLUSH_RETRY_MAX');
  }
  if (v.FLUSH_LOCK_DURATION < 1000) problems.push('FLUSH_LOCK_DURATION: must be at least 1s');
  // A key S3 would never use: without aws:kms the store takes it for a mistake (400), or ignores it.
  if (v.S3_SSE_KMS_KEY_ID !== undefined && !v.S3_SERVER_SIDE_ENCRYPTION?.startsWith('aws:kms')) {
    problems.push('S3_SSE_KMS_KEY_ID: needs S3_SERVER_SIDE_ENCRYPTION=aws:kms or aws:kms:dsse');
  }
  // 0 would turn the timeout off: a store that hangs would hold a flush for good.
  // At most a day: the AWS SDK arms its own timer 2 s past it, which Node fires at once (with a
  // TimeoutOverflowWarning on stderr for every request) once past a timer's longest.
  if (v.S3_TIMEOUT < 1000 || v.S3_TIMEOUT > S3_TIMEOUT_MAX_MS) {
    problems.push(`S3_TIMEOUT: must be from 1s to 24h; got ${v.S3_TIMEOUT}ms`);
  }
  const prefixProblem = keyPrefixProblem(v.S3_PREFIX);
  if (prefixProblem) problems.push(`S3_PREFIX: empty, or ${prefixProblem}`);
  if (v.RATE_LIMIT_WINDOW < 100) problems.push('RATE_LIMIT_WINDOW: must be at least 100ms');
  if (v.GROUP_COMMIT_WINDOW > MAX_GROUP_COMMIT_WINDOW_MS) {
    problems.push(
      `GROUP_COMMIT_WINDOW: at most ${MAX_GROUP_COMMIT_WINDOW_MS}ms (every request waits up to this long for its answer); got ${v.GROUP_COMMIT_WINDOW}ms`,
    );
  }
  if (v.S3_PART_SIZE < 5 * 1024 ** 2 || v.S3_PART_SIZE > 5 * 1024 ** 3) {
    problems.push(`S3_PART_SIZE: S3 takes parts of 5MiB to 5GiB; got ${v.S3_PART_SIZE} bytes`);
  }
  if (v.REDIS_CLUSTER_NODES && given.REDIS_URL !== undefined) {
    problems.push('REDIS_CLUSTER_NODES: REDIS_URL is set too; choose one Redis (a server or a cluster)');
  }
  if (process === 'flusher' && !v.S3_BUCKET)
    problems.push('S3_BUCKET: required: the bucket the objects are in');
  if (process === 'ingest' && v.WRITE_KEYS.length === 0 && !v.ALLOW_ANONYMOUS_WRITES) {
    problems.push(
      'WRITE_KEYS: required, so that only holders of a key can write; to run an open service on purpose, set ALLOW_ANONYMOUS_WRITES=true instead',
    );
  }
  if (v.WRITE_KEYS.length > 0 && v.ALLOW_ANONYMOUS_WRITES) {
    problems.push('ALLOW_ANONYMOUS_WRITES: WRITE_KEYS is set too; choose one');
  }
  if (v.DEDUPE_WINDOW !== 0 && v.DEDUPE_WINDOW < 1000) {
    problems.push(`DEDUPE_WINDOW: must be 0 (off) or at least 1s; got ${v.DEDUPE_WINDOW}ms`);
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);

  return Object.freeze({
    redis: Object.freeze(v.REDIS_CLUSTER_NODES ?? { kind: 'standalone' as const, url: v.REDIS_URL }),
    minReplicasAck: v.REDIS_MIN_REPLICAS_ACK,
    namespace: v.REDIS_NAMESPACE,
    host: v.HOST,
    port,
    metricsPort,
    metricsHosts: v.METRICS_HOSTS,
    flushThresholdBytes: v.FLUSH_THRESHOLD_BYTES,
    flushIntervalMs: v.FLUSH_INTERVAL,
    maxBufferBytes,
    streamShards: Object.freeze(v.STREAM_SHARDS),
    maxEventBytes: v.MAX_EVENT_BYTES,
    maxBodyBytes: v.MAX_BODY_BYTES,
    maxInflightBytes,
    maxRequestStoredBytes,
    maxEventsPerRequest: v.MAX_EVENTS_PER_REQUEST,
    writeKeys: Object.freeze(v.WRITE_KEYS),
    adminKeys: Object.freeze(v.ADMIN_KEYS),
    settingFiles: Object.freeze(files.files),
    quarantineMaxEvents: v.QUARANTINE_MAX_EVENTS,
    allowAnonymousWrites: v.ALLOW_ANONYMOUS_WRITES,
    dedupeWindowMs: v.DEDUPE_WINDOW,
    trustProxy: v.TRUST_PROXY,
    tracking: Object.freeze({
      defaultStream: v.DEFAULT_STREAM,
      maxBatchBytes,
      ipPolicy: v.IP_POLICY,
    }),
    groupCommitWindowMs: v.GROUP_COMMIT_WINDOW,
    redisCommandTimeoutMs: v.REDIS_COMMAND_TIMEOUT,
    memoryReserve: v.REDIS_MEMORY_RESERVE ? Object.freeze(v.REDIS_MEMORY_RESERVE) : undefined,
    rateLimit: Object.freeze({ max: v.RATE_LIMIT_MAX, windowMs: v.RATE_LIMIT_WINDOW }),
    outputFormat: Object.freeze(v.OUTPUT_FORMAT),
    s3: Object.freeze({
      bucket: v.S3_BUCKET,
      prefix: v.S3_PREFIX,
      endpoint: v.S3_ENDPOINT,
      region: v.S3_REGION ?? v.AWS_REGION ?? 'us-east-1',
      forcePathStyle: v.S3_FORCE_PATH_STYLE,
      checksums: v.S3_CHECKSUMS === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
      partBytes: v.S3_PART_SIZE,
      timeoutMs: v.S3_TIMEOUT,
      encryption: v.S3_SERVER_SIDE_ENCRYPTION
        ? Object.freeze({
            ServerSideEncryption: v.S3_SERVER_SIDE_ENCRYPTION,
            ...(v.S3_SSE_KMS_KEY_ID ? { SSEKMSKeyId: v.S3_SSE_KMS_KEY_ID } : {}),
          })
        : undefined,
    }),
    flushRetryBaseMs: v.FLUSH_RETRY_BASE,
    flushRetryMaxMs: v.FLUSH_RETRY_MAX,
    flushLockDurationMs: v.FLUSH_LOCK_DURATION,
    flushConcurrency: v.FLUSH_CONCURRENCY,
    logLevel: v.LOG_LEVEL,
  });
}
