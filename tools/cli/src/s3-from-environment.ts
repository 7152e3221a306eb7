import { createS3Client } from '@spool/flusher/dist/clients.js';
import { loadConfig } from '@spool/shared';
import { environmentForCommands } from './command-environment.js';

/** S3 as the flusher reads it from the environment (S3_BUCKET, S3_PREFIX, ...); Redis is not used. */
export function s3FromEnvironment() {
  const config = loadConfig(environmentForCommands(), 'flusher');
  return { config, s3: createS3Client(config.s3) };
}
