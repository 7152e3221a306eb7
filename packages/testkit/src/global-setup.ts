import type { StartedTestContainer } from 'testcontainers';
import { s3StandinMain } from './local-stack/s3-standin.js';
import { startTestServices } from './services.js';

declare global {
  // Read by the global teardown, which Jest runs in the same context as the setup.
  var __spoolTestContainers: StartedTestContainer[] | undefined;
}

/**
 * Jest globalSetup: the containers start once per run, before any integration test: one S3 and a
 * Redis for each of Jest's workers (jest.config.mjs says how many).
 */
export default async function globalSetup(globalConfig: { maxWorkers: number }): Promise<void> {
  // The local stacks' S3 stand-in, installed here once where a fresh clone has not got it: two
  // workers starting stacks at once each ran `npm ci` in the same folder, and both failed.
  s3StandinMain();
  globalThis.__spoolTestContainers = await startTestServices(globalConfig.maxWorkers);
}
