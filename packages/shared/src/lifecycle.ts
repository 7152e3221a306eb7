import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { type Config, ConfigError, loadConfig, type SpoolProcess } from './config.js';

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
 * On SIGTERM or SIGINT, runs `stop` once and logs; if it takes longer than `graceMs`, exits 1
 * anyway (a stuck shutdown must not keep a container from being replaced).
 */
export function stopOnSignals(logger: Logger, graceMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error({ graceMs }, 'shutdown took too long; exiting');
      globalThis.process.exit(1);
    }, graceMs).unref();
    stop().then(
      () => logger.info('stopped'),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        globalThis.process.exitCode = 1;
      },
    );
  };
  globalThis.process.once('SIGTERM', onSignal);
  globalThis.process.once('SIGINT', onSignal);
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
    logger.fatal({ err: error, host, port }, `cannot listen on HOST=${host} PORT=${port}`);
    globalThis.process.exit(code !== undefined && ADDRESS_ERRORS.has(code) ? EXIT_CONFIG : 1);
  }
}
