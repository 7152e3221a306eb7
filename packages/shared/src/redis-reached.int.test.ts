import { once } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { testServices } from '@spool/testkit';
import { connectRedis, hasReachedRedis } from './redis-connection.js';

/** A file of its own: what it tests is a process's state, which any connection made before would set. */
describe('hasReachedRedis (whether a connection error may be a TLS mismatch)', () => {
  it('is false until a connection made by connectRedis is ready, then true', async () => {
    expect(hasReachedRedis()).toBe(false);
    const redis = connectRedis({ kind: 'standalone', url: testServices().redisUrl });
    try {
      await once(redis, 'ready');
      expect(hasReachedRedis()).toBe(true);
    } finally {
      redis.disconnect();
    }
  });
});
