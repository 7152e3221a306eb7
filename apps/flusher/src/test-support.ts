import { type Config, loadConfig } from '@spool/shared';
import { testServices } from '@spool/testkit';
import { pino } from 'pino';
import { createFlusherClients, type FlusherClients } from './clients.js';
import { buildFlusher, type Flusher } from './flusher.js';

export interface TestFlusher extends Flusher {
  clients: FlusherClients;
  config: Readonly<Config>;
}

/** Environment that points a flusher (in process, or a child process) at the test run's services. */
export function flusherTestEnv(env: Record<string, string> = {}): Record<string, string> {
  const services = testServices();
  return {
    REDIS_URL: services.redisUrl,
    S3_BUCKET: services.s3.bucket,
    S3_ENDPOINT: services.s3.endpoint,
    S3_REGION: services.s3.region,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: services.s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: services.s3.credentials.secretAccessKey,
    LOG_LEVEL: 'silent',
    ...env,
  };
}

/** A flusher in this process against the test run's Redis and S3 (credentials from the environment). */
export async function startTestFlusher(env: Record<string, string> = {}): Promise<TestFlusher> {
  const full = flusherTestEnv(env);
  const config = loadConfig(full, 'flusher');
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: full.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: full.AWS_SECRET_ACCESS_KEY,
  });
  const clients = createFlusherClients(config);
  const flusher = await buildFlusher({ config, clients, logger: pino({ level: config.logLevel }) });
  return {
    ...flusher,
    clients,
    config,
    async close() {
      await flusher.close();
      await clients.close();
    },
  };
}
