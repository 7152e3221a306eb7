import { type Config, loadConfig, type RedisClient } from '@spool/shared';
import { ingestTestEnv } from '@spool/testkit';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApp } from '../src/app.js';
import { createIngestClients, type IngestClients } from '../src/clients.js';

export interface TestIngest extends IngestClients {
  app: FastifyInstance;
  config: Readonly<Config>;
}

/** Resolves once the client can take commands (the offline queue is off, so earlier ones fail). */
export async function whenReady(redis: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis not ready after ${timeoutMs} ms`)), timeoutMs);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * An ingest app on the test run's Redis (or `redisUrl`, e.g. a fault proxy), configured from
 * `env` through the real config parser; open unless `env` brings WRITE_KEYS. Not listening:
 * drive it with `app.inject()`, or call `app.listen({ port: 0 })` for real HTTP. `logger`, when
 * given, is the app's (a test reading what it logs).
 */
export async function startTestIngest(
  env: Record<string, string> = {},
  redisUrl?: string,
  logger?: Logger,
): Promise<TestIngest> {
  const config = loadConfig(
    ingestTestEnv({ ...env, ...(redisUrl ? { REDIS_URL: redisUrl } : {}) }),
    'ingest',
  );
  const clients = createIngestClients(config);
  await whenReady(clients.redis);
  const app = await buildApp({ config, redis: clients.redis, queue: clients.queue, logger });
  return {
    ...clients,
    app,
    config,
    async close() {
      await app.close();
      await clients.close();
    },
  };
}
