import { describe, expect, it } from '@jest/globals';
import { type RedisClient, redisNotReady } from './redis-connection.js';

/** A client in one of ioredis's connection states (only `status` and its socket's `writable` are read for one server). */
const inState = (status: string, writable = true) =>
  ({ status, stream: { writable } }) as unknown as RedisClient;

describe("/readyz's reason", () => {
  it("says in words where a server's connection is, whatever ioredis's own word for it", () => {
    expect(redisNotReady(inState('ready'))).toBeUndefined();
    expect(redisNotReady(inState('connect'))).toBe('the Redis connection is connecting');
    expect(redisNotReady(inState('connecting'))).toBe('the Redis connection is connecting');
    expect(redisNotReady(inState('reconnecting'))).toBe('the Redis connection is reconnecting');
    expect(redisNotReady(inState('wait'))).toBe('the Redis connection is not connected yet');
    expect(redisNotReady(inState('end'))).toBe('the Redis connection is closed');
    expect(redisNotReady(inState('ready', false))).toBe('the Redis connection is closing');
  });
});
