import { createServer } from 'node:net';

/**
 * A TCP port free on 127.0.0.1 right now. On its own entry point (`@spool/testkit/ports`) so
 * tools can use it without loading the container harness.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}
