import type { FastifyInstance } from 'fastify';
import { Cluster } from 'ioredis';
import type { Logger } from 'pino';
import {
  type Config,
  ConfigError,
  loadConfig,
  nearestSetting,
  type SpoolProcess,
  unknownSettings,
} from './config.js';
import { type RedisClient, refusedDatabase } from './redis-connection.js';
import { flushRepeatedLogs } from './repeated-log.js';

/** EX_CONFIG from sysexits.h: the configuration is wrong, restarting will not help. */
const EXIT_CONFIG = 78;

/** The process's configuration, or exit 78 with a message naming each bad variable. */
export function loadConfigOrExit(
  process: SpoolProcess,
  env: NodeJS.ProcessEnv = globalThis.process.env,
): Readonly<Config> {
  try {
    return loadConfig(env, process);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`spool-${process}: ${error.message}`);
    globalThis.process.exit(EXIT_CONFIG);
  }
}

/**
 * Says at start which variables look like Spool's settings and are none: a misspelled one
 * (`REDIS_NAMESPCE=prod`) was ignored in silence, its default used in its place.
 */
export function warnOfUnknownSettings(
  logger: Pick<Logger, 'warn'>,
  env: NodeJS.ProcessEnv = globalThis.process.env,
) {
  const variables = unknownSettings(env);
  if (variables.length > 0) {
    const didYouMean = Object.fromEntries(nearestSettings(variables));
    logger.warn(
      { variables, ...(Object.keys(didYouMean).length > 0 ? { didYouMean } : {}) },
      'not a setting Spool has (misspelled?): ignored; README lists the settings',
    );
  }
}

/** Each unknown variable with the setting it most likely misspells, where one is near. */
function nearestSettings(variables: readonly string[]): Array<[string, string]> {
  return variables.flatMap((name) => {
    const setting = nearestSetting(name);
    return setting ? [[name, setting] as [string, string]] : [];
  });
}

/** The option that checks the settings and exits: `node apps/<process>/dist/main.js --check-config`. */
export const CHECK_CONFIG_OPTION = '--check-config';

/**
 * With `--check-config`, says the settings are valid (they were: the process got this far) and
 * which variables are no setting, and exits 0, before anything is connected or listened on. To
 * check a release's refusals against a deployment's environment before a rollout: the advice
 * was to start the process itself, which served on PORT against the real Redis once the
 * settings passed, and the ingest does not check the flusher's settings (a review's run).
 */
export function exitIfOnlyChecking(
  process: SpoolProcess,
  argv: readonly string[] = globalThis.process.argv,
  env: NodeJS.ProcessEnv = globalThis.process.env,
): void {
  if (!argv.slice(2).includes(CHECK_CONFIG_OPTION)) return;
  const variables = unknownSettings(env);
  const didYouMean = new Map(nearestSettings(variables));
  const unknown = variables.map((name) =>
    didYouMean.has(name) ? `${name} (${didYouMean.get(name)}?)` : name,
  );
  console.log(`spool-${process}: the configuration is valid`);
  if (unknown.length > 0)
    console.log(`spool-${process}: not settings Spool has, ignored: ${unknown.join(', ')}`);
  globalThis.process.exit(0);
}

/**
 * On SIGTERM or SIGINT, runs `stop` once and logs; the process then exits when nothing is left
 * to run, 1 unless `stop` ended well, with its last log lines written (pino writes
 * asynchronously: an exit at once lost lines a slow reader of stdout had not taken yet). If
 * `graceMs` passes first, it exits anyway: 1 when `stop` has not ended (a stuck shutdown must not
 * keep a container from being replaced), logging what `unfinished` says was left (the flusher's
 * jobs in hand, so an operator knows which streams another flusher will take over); with its exit
 * code when it has, saying so: a library's timer that outlives its request (the AWS SDK's, for a
 * request that failed as it was made) held a stopped flusher, which then exited 1 as if stuck.
 */
export function stopOnSignals(
  logger: Logger,
  graceMs: number,
  stop: () => Promise<void>,
  unfinished: () => Record<string, unknown> = () => ({}),
): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // 1 until stop() has ended: a process that runs out of work before then (a stop awaiting what
    // will never come) did not stop, and exited 0 in silence.
    const exitCodeBefore = globalThis.process.exitCode;
    globalThis.process.exitCode = 1;
    let ended: 'stopped' | 'failed' | undefined;
    setTimeout(() => {
      if (ended) {
        logger.warn(
          { graceMs },
          `${ended === 'stopped' ? 'stopped, but' : 'shutdown failed, and'} something still held the process; exiting`,
        );
        globalThis.process.exit();
      }
      logger.error({ graceMs, ...unfinished() }, 'shutdown took too long; exiting');
      globalThis.process.exit(1);
    }, graceMs).unref();
    stop().then(
      () => {
        ended = 'stopped';
        globalThis.process.exitCode = exitCodeBefore;
        flushRepeatedLogs();
        logger.info('stopped');
      },
      (error: unknown) => {
        ended = 'failed';
        logger.error({ err: error }, 'shutdown failed');
      },
    );
  };
  globalThis.process.once('SIGTERM', onSignal);
  globalThis.process.once('SIGINT', onSignal);
}

/** Says what is wrong with `REDIS_URL` (or `REDIS_CLUSTER_NODES`) and exits 78. */
function refuseRedisUrl(process: SpoolProcess, problem: string, setting = 'REDIS_URL'): never {
  console.error(`spool-${process}: invalid configuration:\n  ${setting}: ${problem}`);
  globalThis.process.exit(EXIT_CONFIG);
}

/**
 * Exits 78 once the Redis of `REDIS_URL` turns out to be a node of a Redis Cluster (or one of
 * `REDIS_CLUSTER_NODES` turns out to be none): it serves its
 * own slots only, so the streams of the others were answered 503 (`MOVED` in the log alone) and
 * flush jobs could not be added, all behind a ready `/readyz`. Checked when the connection is first
 * ready (Redis may be down at start), until Redis has answered.
 */
export function refuseClusterNode(process: SpoolProcess, redis: RedisClient): void {
  if (redis instanceof Cluster) {
    // The other way round: REDIS_CLUSTER_NODES naming a Redis that is no Cluster node. ioredis
    // asked it for the slots for ever, and every request was answered 503.
    redis.on('node error', (error: Error) => {
      if (/cluster support disabled/i.test(error.message)) {
        refuseRedisUrl(
          process,
          'a Redis that is not a Cluster node ("cluster support disabled"); name a single Redis with REDIS_URL instead',
          'REDIS_CLUSTER_NODES',
        );
      }
    });
    return;
  }
  const check = () => {
    redis.info('cluster').then(
      (info) => {
        if (/^cluster_enabled:1\b/m.test(info)) {
          refuseRedisUrl(
            process,
            'a node of a Redis Cluster; name the cluster with REDIS_CLUSTER_NODES=host:port,… instead',
          );
        }
      },
      (error: Error) => {
        // Not answered (a command timeout on a loaded machine, the connection lost): asked again
        // a second later, once ready; given up, the process ran on a Cluster node for good. A
        // refusal (an ACL without INFO) cannot be asked again: the check is skipped.
        if (error.name === 'ReplyError') return;
        setTimeout(() => (redis.status === 'ready' ? check() : redis.once('ready', check)), 1_000).unref();
      },
    );
  };
  if (redis.status === 'ready') check();
  else redis.once('ready', check);
}

/**
 * A check for every error of every Redis connection of a process: exits 78 on a refused SELECT of
 * REDIS_URL's database (`/99` where Redis has 16, or one an ACL forbids). ioredis logs the refusal
 * and goes on in database 0, where deployments kept apart by their databases would share their
 * keys, and a flusher could take another deployment's jobs. The refusal is emitted before the
 * connection's `ready`, and this exits at once, so no command of the process runs in database 0;
 * a check after `ready` raced the other connections (a CI run found BullMQ's queue meta written).
 * Any other error goes on to `otherwise` (the connection warnings).
 */
export function exitOnRefusedDatabase(
  process: SpoolProcess,
  otherwise: (error: Error, client: string) => void = () => {},
): (error: Error, client?: string) => void {
  return (error, client = '') => {
    const database = refusedDatabase(error);
    if (database !== undefined) {
      refuseRedisUrl(process, `this Redis refused database ${database} (${error.message})`);
    }
    otherwise(error, client);
  };
}

/** Listen errors that only a different HOST or PORT fixes: restarting will not help. */
const ADDRESS_ERRORS = new Set(['ENOTFOUND', 'EADDRNOTAVAIL', 'EACCES']);

/**
 * Listens on HOST:PORT, or exits naming them: 78 for an address this machine cannot listen on (a
 * host that does not resolve, an address that is not its own, a port it may not bind), 1 for the
 * rest (a port in use may be free after a restart).
 */
export async function listenOrExit(
  app: FastifyInstance,
  { host, port }: Pick<Config, 'host' | 'port'>,
  logger: Logger,
): Promise<void> {
  try {
    await app.listen({ host, port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = `cannot listen on HOST=${host} PORT=${port}`;
    logger.fatal({ err: error, host, port }, message);
    // With LOG_LEVEL=silent the process exited saying nothing; said as a configuration error is.
    if (!logger.isLevelEnabled('fatal')) console.error(`${message}: ${code ?? (error as Error).message}`);
    globalThis.process.exit(code !== undefined && ADDRESS_ERRORS.has(code) ? EXIT_CONFIG : 1);
  }
}
