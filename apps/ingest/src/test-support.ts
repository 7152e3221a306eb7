import { type Config, loadConfig } from '@spool/shared';
import { testServices } from '@spool/testkit';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { createIngestClients, type IngestClients, whenReady } from './clients.js';

export interface TestIngest extends IngestClients {
  app: FastifyInstance;
  config: Readonly<Config>;
}

/**
 * An ingest app on the test run's Redis (or `redisUrl`, e.g. a fault proxy), configured from
 * `env` through the real config parser. Not listening: drive it with `app.inject()`, or call
 * `app.listen({ port: 0 })` for real HTTP.
 */
export async function startTestIngest(
  env: Record<string, string> = {},
  redisUrl?: string,
): Promise<TestIngest> {
  // Open unless the test brings its own write keys: the tests say so explicitly, as operators must.
  const access = env.WRITE_KEYS ? {} : { ALLOW_ANONYMOUS_WRITES: 'true' };
  const config = loadConfig(
    { LOG_LEVEL: 'silent', ...access, ...env, REDIS_URL: redisUrl ?? testServices().redisUrl },
    'ingest',
  );
  const clients = createIngestClients(config);
  await whenReady(clients.redis);
  const app = await buildApp({ config, redis: clients.redis, queue: clients.queue });
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
