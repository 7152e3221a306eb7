import { describe, expect, it } from '@jest/globals';
import { SLOW_CLIENT_LIMITS } from '@spool/shared';
import { randomName } from '@spool/testkit';
import { startTestFlusher } from '../test/support.js';

describe("the flusher's port", () => {
  it("holds a slow client to the ingest's limits (with Fastify's defaults, a body that never finished held its connection for good)", async () => {
    const flusher = await startTestFlusher({ REDIS_NAMESPACE: randomName('slow') });
    try {
      const { server } = flusher.app;
      expect({
        requestTimeout: server.requestTimeout,
        headersTimeout: server.headersTimeout,
        timeout: server.timeout,
      }).toEqual({
        requestTimeout: SLOW_CLIENT_LIMITS.requestTimeout,
        headersTimeout: SLOW_CLIENT_LIMITS.http.headersTimeout,
        timeout: SLOW_CLIENT_LIMITS.connectionTimeout,
      });
    } finally {
      await flusher.close();
    }
  });
});
