#!/usr/bin/env node
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { createS3Client } from '@spool/flusher/dist/clients.js';
import type { Status } from '@spool/flusher/dist/status/status.js';
import { statusReader } from '@spool/flusher/dist/status/status.js';
import {
  connectRedis,
  DEFAULT_NAMESPACE,
  defineSpoolCommands,
  escapeActing,
  FLUSH_QUEUE,
  type FlushJobData,
  forStream,
  isValidStreamName,
  keyPrefixProblem,
  loadConfig,
  OUTPUT_FORMATS,
  type OutputFormat,
  parseClusterNodes,
  parseShardUnit,
  QUEUE_CONNECTION_OPTIONS,
  queuePrefix,
  type RedisClient,
  type RedisTarget,
  readSettingFiles,
  redisNamespace,
  redisUrl,
  refusedDatabase,
  refuseOldNode,
  type StreamKeys,
  streamKeys,
  streamRegistryKey,
} from '@spool/shared';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { withinDeadline } from './deadline.js';
import { followStream } from './follow-stream.js';
import { replay, targetInsideSource } from './replay.js';
import { renderStatus } from './status-table.js';
import { cutToColumns } from './terminal-text.js';
import { verifyDay } from './verify-day.js';

refuseOldNode('spool');

const USAGE = `spool status [--url URL | --redis URL | --cluster host:port,...] [--namespace NS] [--limit N] [--once]
    A live table of the pipeline: every stream's buffer, age, sealed generations and rates, the
    queue, Redis. From a flusher's /status.json (--url; default http://127.0.0.1:9091; with
    ADMIN_KEYS set, put one in SPOOL_ADMIN_KEY), or straight from Redis (--redis, --cluster).
    Redraws every 2 s on a terminal; into a pipe it prints once, without colours.

spool tail STREAM [--redis URL | --cluster host:port,...] [--from-start] [--namespace NS]
    Prints the stream's events as they are appended (NDJSON, one per line), reading only the new
    bytes each time. A flush in the middle loses and repeats nothing, unless its generation lands
    before the tail read its end: the tail then says so on stderr. For a sharded stream, tail
    each shard: web, web#1, web#2, ...

spool verify --stream STREAM --day YYYY-MM-DD [--deep]
    Checks a day of a stream in S3 against its manifest (_manifests/) and the objects' metadata:
    none missing, none changed, none extra. --deep also reads every object (decompressed, hashed).
    S3 from the flusher's settings in the environment: S3_BUCKET, S3_PREFIX, S3_ENDPOINT, ...
    Exits 0 when the day is whole, 1 when it is not.

spool replay --stream STREAM --from YYYY-MM-DD --to YYYY-MM-DD --to-prefix PREFIX [--format F]
    Rewrites the stream's objects of those days (dt= partitions) under PREFIX, in format F
    (ndjson.gz, ndjson.zst or parquet; default OUTPUT_FORMAT's for the stream), with their
    manifests. An object already in F is copied as it is; Parquet objects replay only as parquet.
    A second run changes nothing; a run stopped (Ctrl-C, kill -9) picks up where it was.
    Progress on stderr.

Redis defaults to REDIS_URL or REDIS_CLUSTER_NODES from the environment (or their _FILE, the path of
a file holding it), then redis://127.0.0.1:6379
(make dev's is redis://127.0.0.1:6390). Ctrl-C stops any of them.`;

function fail(message: string): never {
  process.stderr.write(`spool: ${message}\n\n${USAGE}\n`);
  process.exit(64); // EX_USAGE
}

/** The command line, or exit 64 with the usage for an option it does not know or one without its value. */
function commandLine() {
  try {
    return parseArgs({ allowPositionals: true, options: OPTIONS, tokens: true });
  } catch (error) {
    fail((error as Error).message);
  }
}

const OPTIONS = {
  url: { type: 'string' },
  redis: { type: 'string' },
  cluster: { type: 'string' },
  namespace: { type: 'string' },
  limit: { type: 'string', default: '50' },
  once: { type: 'boolean', default: false },
  stream: { type: 'string' },
  day: { type: 'string' },
  deep: { type: 'boolean', default: false },
  from: { type: 'string' },
  to: { type: 'string' },
  'to-prefix': { type: 'string' },
  format: { type: 'string' },
  'from-start': { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

/** The options each command takes (and --help): another command's was ignored in silence. */
const COMMAND_OPTIONS: Record<string, readonly (keyof typeof OPTIONS)[]> = {
  tail: ['redis', 'cluster', 'namespace', 'from-start'],
  status: ['url', 'redis', 'cluster', 'namespace', 'limit', 'once'],
  verify: ['stream', 'day', 'deep'],
  replay: ['stream', 'from', 'to', 'to-prefix', 'format'],
};

const { positionals, values, tokens } = commandLine();

/**
 * Exit 64 for an option the command does not take, for one given twice (only the last was used:
 * `verify --day A --day B` checked B alone), and for more than one of --url, --redis and
 * --cluster: one of them was used and the others ignored, whichever the user meant.
 */
function checkOptionsOf(command: string): void {
  const names = tokens.flatMap((token) => (token.kind === 'option' ? [token.name] : []));
  const given = new Set<string>(names);
  const takes: readonly string[] = COMMAND_OPTIONS[command] ?? [];
  for (const name of given) {
    if (name !== 'help' && !takes.includes(name)) fail(`--${name}: not an option of spool ${command}`);
  }
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined)
    fail(`--${twice}: given more than once; give it once (run the command again for another)`);
  const sources = ['url', 'redis', 'cluster'].filter((name) => given.has(name));
  if (sources.length > 1) fail(`${sources.map((name) => `--${name}`).join(' and ')}: give one of them`);
}

/**
 * --namespace, else REDIS_NAMESPACE (empty is unset, as for the services), else `spool`; refused
 * (exit 64) unless the services would take it: an empty one followed `:{web}:buf` in silence, and
 * status wrote the queue's meta key under `{}`.
 */
function namespaceOption(): string {
  const namespace = values.namespace ?? (process.env.REDIS_NAMESPACE || DEFAULT_NAMESPACE);
  const parsed = redisNamespace.safeParse(namespace);
  if (!parsed.success) {
    fail(
      `${values.namespace === undefined ? 'REDIS_NAMESPACE' : '--namespace'}: ${parsed.error.issues[0]?.message}; got "${escapeActing(namespace)}"`,
    );
  }
  return parsed.data;
}

/**
 * A connection to the target Redis, with Spool's scripts (the status reads a stream with one); its
 * connection errors end the command with one line, not a log each retry. A database Redis refuses
 * ends it at once: ioredis would go on in database 0, another deployment's.
 */
function connectTarget(): RedisClient {
  const redis = connectRedis(redisTarget(), { maxRetriesPerRequest: 3 });
  redis.on('error', (error) => {
    const database = refusedDatabase(error);
    if (database !== undefined) {
      fail(
        `${values.redis ? '--redis' : 'REDIS_URL'}: this Redis refused database ${database} (${error.message})`,
      );
    }
  });
  defineSpoolCommands(redis);
  return redis;
}

function redisTarget(): RedisTarget {
  const env = redisEnv();
  const nodes = values.cluster ?? (values.redis ? undefined : env.REDIS_CLUSTER_NODES);
  if (nodes) {
    try {
      return parseClusterNodes(nodes);
    } catch (error) {
      fail(`${values.cluster ? '--cluster' : 'REDIS_CLUSTER_NODES'}: ${(error as Error).message}`);
    }
  }
  // The services' own rule (an empty variable is unset, as for them): a URL ioredis would misread
  // failed as "Invalid URL", or hung retrying a socket path.
  const url = redisUrl.safeParse(values.redis ?? env.REDIS_URL);
  if (!url.success) {
    const from = values.redis ? '--redis' : env.fromFile ? 'REDIS_URL (from REDIS_URL_FILE)' : 'REDIS_URL';
    fail(`${from}: ${url.error.issues[0]?.message}`);
  }
  return { kind: 'standalone', url: url.data };
}

/**
 * REDIS_URL and REDIS_CLUSTER_NODES as the services read them: an empty variable is unset, and
 * either may come from its `_FILE` (a pod's mounted secret), unless --redis or --cluster says.
 */
function redisEnv(): { REDIS_URL?: string; REDIS_CLUSTER_NODES?: string; fromFile?: boolean } {
  if (values.redis || values.cluster) return {};
  const names = ['REDIS_URL', 'REDIS_URL_FILE', 'REDIS_CLUSTER_NODES', 'REDIS_CLUSTER_NODES_FILE'];
  const given = Object.fromEntries(
    names.flatMap((name) => (process.env[name] ? [[name, process.env[name] as string]] : [])),
  );
  const files = readSettingFiles(given);
  if (files.problems.length > 0) fail(files.problems.join('; '));
  return { ...given, ...files.values, fromFile: files.files.REDIS_URL !== undefined };
}

/**
 * Stops on Ctrl-C (or SIGTERM, or a closed pipe): the signal every loop checks. `stopping`, when
 * given, is said on stderr as the signal is seen: a command that finishes its work in hand first
 * says so, rather than seem to ignore the key (a second Ctrl-C is not caught: it stops at once).
 */
function stopSignal(stopping?: string): AbortSignal {
  const controller = new AbortController();
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const onSignal = () => {
    // Both let go: a second signal, whichever, takes its default action (SIGTERM, then Ctrl-C).
    for (const signal of signals) process.off(signal, onSignal);
    // On a terminal, below the progress line rather than on its end.
    if (stopping) process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}${stopping}\n`);
    controller.abort();
  };
  for (const signal of signals) process.on(signal, onSignal);
  process.stdout.on('error', () => controller.abort()); // EPIPE: `spool tail web | head`
  return controller.signal;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * Resolves once stdout takes more, or once stopped: a pipe whose reader is gone (`| head`) never
 * drains, and waiting for it held the process for good, Ctrl-C and SIGTERM included.
 */
function drained(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      process.stdout.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    process.stdout.once('drain', done);
    signal.addEventListener('abort', done);
  });
}

/** Streams named when a tail's stream is unknown: enough to spot a typo. */
const KNOWN_STREAMS_SHOWN = 10;

/**
 * A stream this namespace has never had (a typo, another namespace) is said once on stderr, with
 * streams it has, before the tail waits for its first event: a wrong name was waited on in silence.
 * A Redis that does not answer here is the tail's to report.
 */
async function sayIfUnknown(redis: RedisClient, stream: string, keys: StreamKeys, namespace: string) {
  const registry = streamRegistryKey(namespace);
  try {
    const [registered, buffered] = await Promise.all([
      redis.zscore(registry, stream),
      redis.exists(keys.buf),
    ]);
    if (registered !== null || buffered > 0) return;
    const known = await redis.zrevrange(registry, 0, KNOWN_STREAMS_SHOWN - 1);
    const some = known.length === 0 ? 'it has none yet' : `it has ${known.map(escapeActing).join(', ')}`;
    process.stderr.write(
      `spool tail: namespace ${namespace} has no stream "${stream}" yet (${some}); waiting for its first event\n`,
    );
  } catch {}
}

async function tail(stream: string | undefined): Promise<void> {
  // Without this, a name no stream can have would be waited on for ever, in silence. A sharded
  // stream's shards are tailed one by one: web, web#1, web#2, ...
  if (!stream || !parseShardUnit(stream)) {
    fail(
      `tail: expected a stream name (1 to 64 of a-z, 0-9, "_" and "-", starting with a letter or digit), or a shard as web#1${stream ? `; got "${escapeActing(stream.slice(0, 80).toWellFormed())}"` : ''}`,
    );
  }
  const namespace = namespaceOption();
  const keys = streamKeys(stream, namespace);
  const redis = connectTarget();
  const signal = stopSignal();
  const width = process.stdout.isTTY ? process.stdout.columns : undefined;
  try {
    // A cluster client queues its commands until it has read the slots, for good when no node
    // answers: the tail waited in silence, Ctrl-C and SIGTERM unheard. One Redis's commands fail
    // after their retries instead ("cannot reach Redis").
    if (redis.status !== 'ready' && 'nodes' in redis) {
      const ready = once(redis, 'ready').then(() => true);
      const source = 'the Redis Cluster (is it one, and up? --cluster or REDIS_CLUSTER_NODES say where)';
      if ((await withinDeadline(ready, { ms: READ_TIMEOUT_MS, signal, source })) === undefined) return;
    }
    await sayIfUnknown(redis, stream, keys, namespace);
    for await (const step of followStream(redis, keys, {
      fromStart: values['from-start'],
      signal,
    })) {
      if (step.kind === 'skipped') {
        process.stderr.write(
          `spool tail: generation ${step.gen} landed before its bytes from ${step.fromByte} were read; they are in its S3 object\n`,
        );
        continue;
      }
      if (step.kind === 'skippedGenerations') {
        const what =
          step.from === step.to
            ? `generation ${step.from} landed before any of it was read; it is in S3`
            : `generations ${step.from} to ${step.to} landed before any of them was read; they are in S3`;
        process.stderr.write(`spool tail: ${what}\n`);
        continue;
      }
      if (step.kind === 'restarted') {
        process.stderr.write(
          `spool tail: the buffer went back (now generation ${step.gen}, without the ${step.fromByte} bytes read: Redis lost writes, or it was emptied); following it from its start\n`,
        );
        continue;
      }
      // On a terminal a line is cut to its width; into a pipe, whole (for jq and the like).
      const text = step.lines.map((line) => {
        const safe = escapeActing(line);
        return width ? cutToColumns(safe, width) : safe;
      });
      if (!process.stdout.write(`${text.join('\n')}\n`)) await drained(signal);
    }
  } finally {
    redis.disconnect();
  }
}

/** How long one read of the status may take: a Redis that never answers must not hold the command. */
const READ_TIMEOUT_MS = 10_000;

async function status(): Promise<void> {
  // Digits only: Number() read "0x10" as 16 and " 5" as 5.
  const limit = /^\d{1,4}$/.test(values.limit) ? Number(values.limit) : Number.NaN;
  if (!(limit >= 1 && limit <= 1000)) fail('--limit: expected a whole number from 1 to 1000');
  let read: () => Promise<Status>;
  // What a reading under way has read so far (streams), where the command reads Redis itself.
  let progress: (() => number | undefined) | undefined;
  let close = async () => {};
  // What the view reads from, and how a deadline's error names it.
  let readsFrom = values.cluster ? 'the Redis Cluster' : 'Redis';
  let source = values.cluster ? `${readsFrom} (is it one?)` : readsFrom;
  if (values.redis || values.cluster) {
    const namespace = namespaceOption();
    const redis = connectTarget();
    const queue = new Queue<FlushJobData>(FLUSH_QUEUE, {
      ...QUEUE_CONNECTION_OPTIONS,
      connection: redis,
      prefix: queuePrefix(namespace),
    });
    // Its connection's errors, a line a retry, are the read's to report (once, or its deadline's).
    queue.on('error', () => {});
    // Thresholds and intervals as the flusher reads them, from this environment (the Redis
    // and S3 settings are not used here).
    const config = loadConfig(
      { ...environmentForCommands(), S3_BUCKET: 'unused', REDIS_NAMESPACE: namespace },
      'flusher',
    );
    const readStatus = statusReader({ redis, queue, config });
    progress = readStatus.readingProgress;
    read = async () => {
      // A cluster client reads its nodes once ready: before, it knows no master to ask.
      if (redis.status !== 'ready') await once(redis, 'ready');
      return readStatus(limit);
    };
    close = async () => {
      // A Redis never reached (a cluster that is not one) would hold the queue's close for good.
      await Promise.race([queue.close(), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
      redis.disconnect();
    };
  } else {
    const base = values.url ?? 'http://127.0.0.1:9091';
    if (!/^https?:$/.test(URL.parse(base)?.protocol ?? '')) {
      fail("--url: expected the flusher's http:// or https:// URL, such as http://127.0.0.1:9091");
    }
    const url = new URL('status.json', `${base.replace(/\/?$/, '/')}`);
    // fetch refuses such a URL, and its error repeats the URL, key included.
    if (url.username || url.password) fail('--url: put the admin key in SPOOL_ADMIN_KEY, not in the URL');
    readsFrom = `the flusher at ${url.origin}`;
    source = readsFrom;
    url.searchParams.set('limit', String(limit));
    const key = process.env.SPOOL_ADMIN_KEY;
    read = async () => {
      const answer = await fetch(url, {
        headers: key ? { authorization: `Bearer ${key}` } : {},
        signal: AbortSignal.timeout(10_000),
      }).catch((error: Error) => {
        throw new Error(
          `cannot reach the flusher at ${url.origin} (${error.message}): is it running? --url says where`,
        );
      });
      if (answer.status === 401) {
        throw new Error(
          key
            ? `${url.origin} refused SPOOL_ADMIN_KEY: it is not one of the flusher's ADMIN_KEYS`
            : `${url.origin} wants an admin key: set SPOOL_ADMIN_KEY`,
        );
      }
      // The flusher is there; its Redis is not (a 503 says so), or its open views take no name (403).
      if (answer.status === 503 || answer.status === 403)
        throw new Error(`${url.origin}: ${((await answer.json()) as { message: string }).message}`);
      if (!answer.ok) throw new Error(`${url} answered ${answer.status}`);
      return (await answer.json()) as Status;
    };
  }
  const live = process.stdout.isTTY && !values.once;
  const signal = stopSignal();
  try {
    // A reading may take seconds (a Redis of many streams, a flusher far away): the terminal says
    // what it waits for rather than stay blank until the first table.
    if (live) process.stdout.write(`\x1b[H\x1b[2Jreading the status from ${readsFrom}…\n`);
    do {
      let lines: string[];
      try {
        const answer = await withinDeadline(read(), { ms: READ_TIMEOUT_MS, signal, source, progress });
        if (answer === undefined) break; // stopped
        // A terminal that reports no size (a pty left at 0×0) has 0 columns: 120 then, as for a pipe.
        lines = renderStatus(answer, { width: process.stdout.columns || 120, color: live });
      } catch (error) {
        if (!live) throw error;
        // The flusher's words, or anyone's on the way to a plain-http one.
        lines = [`cannot read the status: ${escapeActing((error as Error).message)}`];
      }
      // On a terminal: clear and redraw in place; into a pipe: one plain snapshot.
      process.stdout.write(`${live ? '\x1b[H\x1b[2J' : ''}${lines.join('\n')}\n`);
      if (live) await sleep(2_000, signal);
    } while (live && !signal.aborted);
  } finally {
    await close();
  }
}

/** S3 as the flusher reads it from the environment (S3_BUCKET, S3_PREFIX, ...); Redis is not used. */
function s3FromEnvironment() {
  const config = loadConfig(environmentForCommands(), 'flusher');
  return { config, s3: createS3Client(config.s3) };
}

/**
 * This environment for loadConfig, less what no command uses from it: its Redis settings (a
 * placeholder in their place) and the admin keys. Neither they nor a file holding them (mounted
 * in the flusher's pod, say, not where the command runs) is read or refused.
 */
function environmentForCommands(): NodeJS.ProcessEnv {
  const {
    REDIS_CLUSTER_NODES: _nodes,
    REDIS_CLUSTER_NODES_FILE: _nodesFile,
    REDIS_URL_FILE: _urlFile,
    ADMIN_KEYS: _adminKeys,
    ADMIN_KEYS_FILE: _adminKeysFile,
    ...env
  } = process.env;
  return { ...env, REDIS_URL: 'redis://127.0.0.1:6379' };
}

/** --stream, refused (exit 64) unless a stream name. */
function streamOption(): string {
  const { stream } = values;
  if (!stream || !isValidStreamName(stream)) fail('--stream: expected a stream name');
  return stream;
}

/** A day option (`--day`, `--from`, `--to`), refused (exit 64) unless a day of the calendar, YYYY-MM-DD. */
function dayOption(name: string, day: string | undefined): string {
  // 2026-02-30 would be read as 2026-03-02, and 2026-12-99 as no day at all.
  const at = day && /^\d{4}-\d{2}-\d{2}$/.test(day) ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
  if (!day || !Number.isFinite(at) || !new Date(at).toISOString().startsWith(day)) {
    fail(`${name}: expected a day as YYYY-MM-DD`);
  }
  return day;
}

async function verify(): Promise<boolean> {
  const stream = streamOption();
  const day = dayOption('--day', values.day);
  const { config, s3 } = s3FromEnvironment();
  try {
    const report = await verifyDay({
      s3,
      bucket: config.s3.bucket as string,
      prefix: config.s3.prefix,
      stream,
      day,
      deep: values.deep,
    });
    const problems = report.missing.length + report.changed.length + report.extra.length;
    const out = [
      report.checked === 0
        ? `${report.manifest}: no manifest, and objects in the day`
        : `${report.manifest}: ${report.checked} objects in the manifest${values.deep ? ', read whole' : ''}`,
      ...report.missing.map((key) => `missing  ${key}`),
      ...report.changed.map(({ key, why }) => `changed  ${key}: ${why}`),
      ...report.extra.map((key) => `extra    ${key} (not in the manifest; landed in the last moments?)`),
      problems === 0 ? 'ok: none missing, none changed, none extra' : `${problems} problem(s)`,
    ];
    // Keys, metadata and manifest lines come from S3, where any character may be in them (U+009B
    // is a terminal's CSI): a terminal must not act on them.
    process.stdout.write(`${out.map(escapeActing).join('\n')}\n`);
    return problems === 0;
  } finally {
    s3.destroy();
  }
}

async function replayCommand(): Promise<void> {
  const { format } = values;
  const toPrefix = values['to-prefix'];
  const stream = streamOption();
  const from = dayOption('--from', values.from);
  const to = dayOption('--to', values.to);
  if (from > to) fail('--from: after --to');
  if (!toPrefix) fail('--to-prefix: where the copies go (S3_PREFIX is where the objects are)');
  // A folder, as S3_PREFIX is.
  const prefixProblem = keyPrefixProblem(toPrefix);
  if (prefixProblem) fail(`--to-prefix: ${prefixProblem}`);
  if (format !== undefined && !OUTPUT_FORMATS.includes(format as OutputFormat)) {
    fail(`--format: expected ${OUTPUT_FORMATS.join(' or ')}`);
  }
  const { config, s3 } = s3FromEnvironment();
  const inside = targetInsideSource(config.s3.prefix, toPrefix);
  if (inside) fail(`--to-prefix: ${inside}`);
  const signal = stopSignal(
    'spool replay: stopping: finishing the copy in hand, then writing the day manifest of the copies made (Ctrl-C again stops at once)',
  );
  const tty = process.stderr.isTTY;
  try {
    const done = await replay({
      s3,
      bucket: config.s3.bucket as string,
      fromPrefix: config.s3.prefix,
      toPrefix,
      stream,
      fromDay: from,
      toDay: to,
      format: (format as OutputFormat | undefined) ?? forStream(config.outputFormat, stream),
      partBytes: config.s3.partBytes,
      logger: pino({ level: 'warn' }, pino.destination(2)),
      signal,
      progress: (p) =>
        process.stderr.write(
          `${tty ? '\r\x1b[K' : ''}${p.objects}/${p.of} objects (${p.written} written, ${p.skipped} already there) ${tty ? '' : `${escapeActing(p.key)}\n`}`,
        ),
    });
    process.stderr.write(tty ? '\n' : '');
    process.stdout.write(
      `${signal.aborted ? 'stopped' : 'replayed'}: ${done.objects} of ${done.of} objects, ${done.written} written, ${done.skipped} already there\n`,
    );
    // Not copied, so not whole either: said, each, and the exit says so (a second run says the same).
    for (const { key, why } of done.leftOut) {
      process.stderr.write(`spool replay: left out ${escapeActing(key)}: ${why}\n`);
    }
    if (done.leftOut.length > 0) {
      process.stderr.write(`spool replay: ${done.leftOut.length} object(s) in range left out, not copied\n`);
      process.exitCode = 1;
    }
    // Stopped, the copy is not whole: `make replay && <delete the source>` must not go on.
    if (signal.aborted) process.exitCode = 130;
    // Nothing to replay is almost always a wrong S3_PREFIX, stream or range: said, not passed over.
    // (Unless stopped while listing: then nothing was looked at, and the exit is 130.)
    if (done.of === 0 && done.leftOut.length === 0 && !signal.aborted) {
      process.stderr.write(
        `spool: no objects of stream ${stream} from ${from} to ${to} under S3_PREFIX "${config.s3.prefix}"\n`,
      );
      process.exitCode = 1;
    }
  } finally {
    s3.destroy();
  }
}

/** What stopped a command, in words: tail and status read Redis, verify and replay S3. */
function failureOf(command: string, error: Error): string {
  const unreachable =
    /max retries per request|ECONNREFUSED|Connection is closed|ENOTFOUND|EHOSTUNREACH/i.test(
      `${error.message} ${(error as NodeJS.ErrnoException).code ?? ''}`,
    );
  // ioredis's words for a cluster whose slots it cannot read: down, or no cluster at all.
  if (/Failed to refresh slots cache|ClusterAllFailedError/.test(error.message)) {
    return 'cannot read a Redis Cluster there (is it one, and up? --cluster or REDIS_CLUSTER_NODES say where)';
  }
  if (!unreachable) return error.message;
  if (command === 'verify' || command === 'replay') {
    const endpoint = process.env.S3_ENDPOINT;
    // Its origin only: never a path's or query's secrets.
    const where = endpoint && URL.canParse(endpoint) ? new URL(endpoint).origin : 'AWS';
    return `cannot reach S3 (${where}): is it running? S3_ENDPOINT says where`;
  }
  return 'cannot reach Redis (is it running? --redis, --cluster or REDIS_URL say where)';
}

// Progress and warnings go to stderr. A reader gone from it (`2>&1 | head`) must not kill a run
// between a copy and its manifest line: what is said there is lost, the work goes on.
process.stderr.on('error', () => {});

const [command, ...rest] = positionals;
if (values.help || command === undefined) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(command === undefined && !values.help ? 64 : 0);
}
checkOptionsOf(command);
try {
  if (command === 'tail') {
    if (rest.length !== 1) fail('tail takes one stream');
    await tail(rest[0] as string);
  } else if (command === 'replay') {
    if (rest.length !== 0) fail('replay takes its options only');
    await replayCommand();
  } else if (command === 'verify') {
    if (rest.length !== 0) fail('verify takes --stream and --day');
    process.exit((await verify()) ? 0 : 1);
  } else if (command === 'status') {
    if (rest.length !== 0) fail('status takes no stream');
    await status();
  } else {
    fail(`unknown command "${command}"`);
  }
  process.exit(process.exitCode ?? 0);
} catch (error) {
  // Line by line: a configuration error lists its problems one to a line.
  const lines = failureOf(command, error as Error)
    .split('\n')
    .map(escapeActing);
  process.stderr.write(`spool ${command}: ${lines.join('\n')}\n`);
  process.exit(1);
}
