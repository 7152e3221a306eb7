import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { LocalStack } from './local-stack.js';

/** The local stack that make dev, the loadtest and the chaos runs start. */
describe('the local stack', () => {
  it('refuses a service its fixed port when another server holds it, rather than take that server for it', async () => {
    // Another server that answers /readyz as a ready Spool would (make dev's 8080 taken by a compose stack).
    const holder = createServer((_request, response) => response.end('{"status":"ready"}'));
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    const stack = await LocalStack.start({ s3: false });
    try {
      await expect(stack.addIngest({}, { port })).rejects.toThrow(
        `ingest-1: port ${port} is in use by another process`,
      );
      expect(stack.ingests).toEqual([]);
    } finally {
      await stack.stop();
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});
