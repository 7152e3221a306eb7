import type { StartedTestContainer } from 'testcontainers';
import { startTestServices } from './services.js';

declare global {
  // Read by the global teardown, which Jest runs in the same context as the setup.
  var __spoolTestContainers: StartedTestContainer[] | undefined;
}

/** Jest globalSetup: the containers start once per run, before any integration test. */
export default async function globalSetup(): Promise<void> {
  globalThis.__spoolTestContainers = await startTestServices();
}
