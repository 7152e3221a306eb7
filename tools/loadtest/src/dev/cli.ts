#!/usr/bin/env node
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  forStream,
  isValidStreamName,
  type OutputFormat,
  outputFormat,
  readSettingFiles,
  writeKeys,
} from '@spool/shared';
import {
  LocalStack,
  type ProcessOutput,
  REPO_ROOT,
  startChildrenInOwnSessions,
} from '@spool/testkit/local-stack';
import { prettyFactory } from 'pino-pretty';
import { onTerminalGone, outliveTerminalIfAsked } from './terminal-gone.js';

/**
 * `make dev`: the whole pipeline on this machine, in the foreground, on the local stack: a Redis
 * of its own (AOF everysec, data in .data/redis) unless REDIS_URL is set, the S3 stand-in (objects
 * in .data/s3) unless S3_ENDPOINT is set, then the ingest and the flusher, on loopback. Logs are
 * pretty on a terminal and JSON lines otherwise. Ctrl-C stops everything; the next run reuses the
 * data. Every other setting passes through from the environment (README, Configuration).
 *
 * `make dev-cluster` (SPOOL_DEV_CLUSTER=1): the same pipeline on a Redis Cluster of 3 masters and
 * 3 replicas (ports 7000-7005 and their bus ports 17000-17005, data in .data/redis-cluster).
 * SPOOL_DEV_DATA_DIR puts the data elsewhere than .data/.
 */
const env = process.env;
const port = (name: string, fallback: number) => Number(env[name] ?? fallback);
const DEMO = {
  // Objects appear within seconds: a demo, not production's 32MiB / 5m.
  FLUSH_THRESHOLD_BYTES: env.FLUSH_THRESHOLD_BYTES ?? '1MiB',
  FLUSH_INTERVAL: env.FLUSH_INTERVAL ?? '10s',
  LOG_LEVEL: env.LOG_LEVEL ?? 'info',
};

/** Each line of a process, as a terminal reader wants it: pino's JSON made readable, names aligned. */
function prettyOutput(): ProcessOutput {
  const pretty = prettyFactory({
    colorize: true,
    singleLine: true,
    translateTime: 'HH:MM:ss.l',
    ignore: 'pid,hostname,name',
  });
  return (name, line) => {
    const text = line.startsWith('{') ? pretty(line).trimEnd() : line;
    process.stdout.write(`${name.padEnd(9)} ${text}\n`);
  };
}

/**
 * One make dev at a time on .data/: two Redis servers writing one AOF directory (a second run on
 * other ports, say) would corrupt it. Takes .data/make-dev.pid (written whole, then linked: it
 * never exists half-written), or exits naming its holder. A holder that is gone (killed) leaves
 * it to the next run, taken over by a rename, so of two runs that find it only one removes it.
 */
function lockDataDir(dataDir: string): void {
  const lock = join(dataDir, 'make-dev.pid');
  const mine = join(dataDir, `make-dev.${process.pid}`);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(mine, String(process.pid));
  // process.exit() runs no finally: this goes on every way out.
  process.on('exit', () => rmSync(mine, { force: true }));
  const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code;
  const refuse = (why: string): never => {
    process.stderr.write(`make dev: ${why}\n`);
    process.exit(1);
  };
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      linkSync(mine, lock);
      process.on('exit', () => rmSync(lock, { force: true }));
      rmSync(mine); // the lock is its second name
      return;
    } catch (error) {
      if (codeOf(error) !== 'EEXIST') throw error;
    }
    let holder: number;
    try {
      holder = Number(readFileSync(lock, 'utf8'));
    } catch (error) {
      if (codeOf(error) === 'ENOENT') continue; // its holder just stopped
      throw error;
    }
    if (isAlive(holder)) refuse(`another make dev (pid ${holder}) is using ${dataDir}; stop it first`);
    // Stale: moved aside. If another run took it over meanwhile, what was moved is its live lock:
    // put back, and this run stops.
    const aside = `${lock}.stale.${process.pid}`;
    try {
      renameSync(lock, aside);
    } catch {
      continue;
    }
    const moved = Number(readFileSync(aside, 'utf8'));
    if (moved !== holder) {
      try {
        linkSync(aside, lock);
      } finally {
        rmSync(aside, { force: true });
      }
      refuse(`another make dev (pid ${moved}) is using ${dataDir}; stop it first`);
    }
    rmSync(aside, { force: true });
  }
  refuse(`could not take ${lock}; is another make dev starting?`);
}

/**
 * What a make dev runs besides itself, recorded in .data/make-dev.children: one killed (kill -9,
 * or its terminal closed before SIGHUP was handled) leaves its Redis and the rest running, and a
 * next run on other ports would put a second Redis on the same AOF. Refuses while any of them
 * still runs (a pid of ours: its command line names redis-server or this repository).
 */
function refuseLeftovers(dataDir: string): void {
  let recorded: number[];
  try {
    recorded = readFileSync(childrenFile(dataDir), 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return;
  }
  const left = recorded.filter((pid) => isAlive(pid) && isOurs(pid));
  if (left.length > 0) {
    process.stderr.write(
      `make dev: a previous make dev's processes still run on ${dataDir} (pids ${left.join(' ')}); stop them first: kill ${left.join(' ')}\n`,
    );
    process.exit(1);
  }
  rmSync(childrenFile(dataDir), { force: true });
}

const childrenFile = (dataDir: string) => join(dataDir, 'make-dev.children');

function isOurs(pid: number): boolean {
  try {
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return command.includes('redis-server') || command.includes(REPO_ROOT);
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const cluster = env.SPOOL_DEV_CLUSTER === '1';
const DATA_DIR = env.SPOOL_DEV_DATA_DIR || join(REPO_ROOT, '.data');
/** DATA_DIR as the banner names it: `.data/` in the repository, else the folder it was given. */
const DATA_SHOWN = `${env.SPOOL_DEV_DATA_DIR ? DATA_DIR.replace(/\/+$/, '') : relative(REPO_ROOT, DATA_DIR)}/`;
// Before anything starts, so that what it starts inherits it.
const outlivesTerminal = outliveTerminalIfAsked();
lockDataDir(DATA_DIR);
refuseLeftovers(DATA_DIR);
const PORTS_HINT =
  '  (ports: SPOOL_DEV_REDIS_PORT, SPOOL_DEV_CLUSTER_PORT, SPOOL_DEV_S3_PORT, SPOOL_DEV_INGEST_PORT, SPOOL_DEV_FLUSHER_PORT)\n';
/** Why the start failed, and the settings that move the ports when a port in use is why. */
function startFailed(error: unknown): string {
  const { message } = error as Error;
  return `make dev: ${message}\n${/\bport\b.*\bin use\b/i.test(message) ? PORTS_HINT : ''}`;
}

let stack: LocalStack | undefined;
let starting: Promise<LocalStack> | undefined;
let stopping = false;
/**
 * Stops everything started, in order (the services, then Redis and the S3 stand-in), and exits.
 * Heard from before the start: the children, in sessions of their own, hear no terminal, and a
 * Ctrl-C during the start ended this process alone and left Redis running, unrecorded (a review's
 * run). A start under way is let finish first: what it started is known then.
 */
const stop = async () => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`\nstopping; the data stays in ${DATA_SHOWN} for the next run\n`);
  await starting?.catch(() => undefined);
  await stack?.stop();
  rmSync(childrenFile(DATA_DIR), { force: true });
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// A closed terminal: Redis ignores SIGHUP, so only this process can stop it.
if (!outlivesTerminal) onTerminalGone(() => void stop());

// Ctrl-C reaches this process alone, and stop() stops the rest in order.
startChildrenInOwnSessions();
starting = LocalStack.start({
  dataDir: DATA_DIR,
  redis: cluster
    ? {
        fsync: 'everysec',
        cluster: { masters: 3, replicasPerMaster: 1, basePort: port('SPOOL_DEV_CLUSTER_PORT', 7000) },
      }
    : { url: env.REDIS_URL, port: port('SPOOL_DEV_REDIS_PORT', 6390), fsync: 'everysec' },
  s3: { endpoint: env.S3_ENDPOINT, port: port('SPOOL_DEV_S3_PORT', 9000), bucket: env.S3_BUCKET ?? 'spool' },
  output: process.stdout.isTTY ? prettyOutput() : 'inherit',
  // Any setting in the environment overrides make dev's defaults (README).
  inheritSettings: true,
});
const started = await starting.catch((error: unknown) => {
  // Stopped meanwhile: stop() says so and exits.
  if (stopping) return new Promise<never>(() => {});
  process.stderr.write(startFailed(error));
  process.exit(1);
});
stack = started;
const recordChildren = () => writeFileSync(childrenFile(DATA_DIR), started.pids.join('\n'));
recordChildren();
// Stopped while it started: stop() stops it now, and exits.
if (stopping) await new Promise<never>(() => {});

/**
 * WRITE_KEYS's text, or WRITE_KEYS_FILE's (read as the ingest reads it: it has started on it):
 * the banner called a run keyed by a file open, and its curl had no key (a review's run).
 */
function writeKeysText(): string | undefined {
  if (env.WRITE_KEYS) return env.WRITE_KEYS;
  if (!env.WRITE_KEYS_FILE) return undefined;
  return readSettingFiles({ WRITE_KEYS_FILE: env.WRITE_KEYS_FILE }).values.WRITE_KEYS;
}

/** The stream and the curl option of the banner's example: one the first write key may write to. */
function example(): { stream: string; auth: string } {
  const parsed = writeKeys.safeParse(writeKeysText());
  const first = parsed.success ? parsed.data[0] : undefined;
  if (!first) return { stream: 'web', auth: '' };
  const streams = first.streams === '*' ? [] : [...first.streams].filter(isValidStreamName);
  // The key itself is never printed: this output may end up in a log.
  const from = env.WRITE_KEYS ? 'WRITE_KEYS' : 'WRITE_KEYS_FILE';
  return { stream: streams[0] ?? 'web', auth: ` -u '<the first key of ${from}>:'` };
}

/** Where the banner's event lands: the stand-in's folder, or the bucket of S3_ENDPOINT's store. */
function landing(bucket: string | undefined, stream: string): string {
  const key = `${env.S3_PREFIX ?? ''}stream=${stream}/dt=<day>/hour=<hour>/`;
  if (env.S3_ENDPOINT) return `in s3://${bucket}/${key} (${env.S3_ENDPOINT})`;
  // The stream's own format: OUTPUT_FORMAT may name one per stream (`web:parquet,*:ndjson.gz`).
  const formats = outputFormat.safeParse(env.OUTPUT_FORMAT);
  const read = READ_HINT[formats.success ? forStream(formats.data, stream) : 'ndjson.gz'];
  return `in ${DATA_SHOWN}s3/${bucket}/${key}
    (the stand-in keeps each object's bytes as <key>._S3rver_object: ${read})`;
}
const READ_HINT: Record<OutputFormat, string> = {
  'ndjson.gz': 'zcat it to read the events',
  'ndjson.zst': 'zstdcat it to read the events',
  parquet: 'make query reads it, docs/output.md',
};

try {
  const ingest = await stack.addIngest(DEMO, { port: port('SPOOL_DEV_INGEST_PORT', 8080) });
  const flusher = await stack.addFlusher(DEMO, { port: port('SPOOL_DEV_FLUSHER_PORT', 9091) });
  recordChildren();
  const { stream, auth } = example();
  const access = env.WRITE_KEYS
    ? 'write keys required (WRITE_KEYS)'
    : env.WRITE_KEYS_FILE
      ? 'write keys required (WRITE_KEYS_FILE)'
      : 'open to anyone who reaches 127.0.0.1 (ALLOW_ANONYMOUS_WRITES=true; set WRITE_KEYS to require keys)';
  const bucket = stack.s3?.bucket;
  // The admin views want a key then, make status too (SPOOL_ADMIN_KEY); never printed.
  const adminKeys = env.ADMIN_KEYS ? 'ADMIN_KEYS' : env.ADMIN_KEYS_FILE ? 'ADMIN_KEYS_FILE' : undefined;
  // make status, tail, verify, replay and loadtest find this run on the ports it was given.
  const portsSet = Object.entries(env)
    .filter(([name, value]) => name.startsWith('SPOOL_DEV_') && name.endsWith('_PORT') && value)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  // Services of the user's own, and the namespace: named, not printed (a URL may hold a password,
  // and this output may end up in a log). make tail, verify and replay need them as make dev had them.
  const ownServices = [
    'REDIS_URL',
    'REDIS_CLUSTER_NODES',
    'REDIS_NAMESPACE',
    'S3_ENDPOINT',
    'S3_BUCKET',
    'S3_PREFIX',
  ]
    .filter((name) => env[name])
    .join(', ');
  process.stderr.write(`
  Spool is running (demo settings: FLUSH_THRESHOLD_BYTES=${DEMO.FLUSH_THRESHOLD_BYTES}, FLUSH_INTERVAL=${DEMO.FLUSH_INTERVAL}).
  Access: ${access}.
  Redis ${stack.redisCluster ? `Cluster of 3 masters and 3 replicas: REDIS_CLUSTER_NODES=${stack.redisCluster.seeds}` : stack.redisUrl}, S3 ${stack.s3?.endpoint} (bucket ${bucket})

  Send an event:
    curl -X POST ${ingest.url}/v1/streams/${stream}/events${auth} \\
      -H 'Content-Type: application/json' -d '{"event":"signup","plan":"pro"}'

  It lands within about ${DEMO.FLUSH_INTERVAL} ${landing(bucket, stream)}

  Status page: ${flusher.url}/status${adminKeys ? ` (log in with one of ${adminKeys} as user name)` : ''}
    In a terminal: ${portsSet ? `export ${portsSet}; then ` : ''}${ownServices ? `with ${ownServices} set as for make dev, ` : ''}${adminKeys ? `SPOOL_ADMIN_KEY=<one of ${adminKeys}> ` : ''}make status (a live table), ${stack.redisCluster ? `REDIS_CLUSTER_NODES=${stack.redisCluster.seeds} ` : ''}make tail STREAM=${stream} (${stream}'s events as they arrive)
  Ingest metrics: ${ingest.url}/metrics   Flusher metrics: ${flusher.url}/metrics
  Ctrl-C stops everything; the next 'make dev' reuses ${DATA_SHOWN}.

`);
  // Runs until Ctrl-C, or until a process of the pipeline exits by itself.
  await Promise.race([...stack.ingests, ...stack.flushers].map((service) => service.process.exited()));
  // Ctrl-C stops them too: stop() says so and exits.
  if (stopping) await new Promise(() => {});
  process.stderr.write('a process of the pipeline exited; stopping\n');
  await stack.stop();
  rmSync(childrenFile(DATA_DIR), { force: true });
  process.exit(1);
} catch (error) {
  process.stderr.write(startFailed(error));
  await stack.stop();
  rmSync(childrenFile(DATA_DIR), { force: true });
  process.exit(1);
}
