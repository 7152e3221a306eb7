import type { StartedTestContainer } from 'testcontainers';
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
  globalThis.__spoolTestContainers = await startTestServices(globalConfig.maxWorkers);
}
