import { stopTestServices } from './services.js';

/** Jest globalTeardown: stops what the global setup started (Ryuk may be unavailable). */
export default async function globalTeardown(): Promise<void> {
  await stopTestServices(globalThis.__spoolTestContainers ?? []);
  globalThis.__spoolTestContainers = undefined;
}
