import { afterAll, afterEach, describe, expect, it, jest } from '@jest/globals';
import { defineSpoolCommands, STREAM_REGISTRATION_REFRESH_MS, streamRegistryKey } from '@spool/shared';
import { createTestRedis, randomName } from '@spool/testkit';
import { StreamRegistration } from './stream-registration.js';

const redis = createTestRedis();
defineSpoolCommands(redis);
afterAll(() => redis.quit());
afterEach(() => {
  jest.restoreAllMocks();
});

/** performance.now() as the registration reads it, moved by hand. */
function clock() {
  let now = performance.now();
  jest.spyOn(performance, 'now').mockImplementation(() => now);
  return { advance: (ms: number) => (now += ms) };
}

describe('StreamRegistration', () => {
  it('registers a stream once, then again once STREAM_REGISTRATION_REFRESH_MS has passed', async () => {
    const namespace = randomName('ns');
    const registry = streamRegistryKey(namespace);
    const registration = new StreamRegistration(redis, namespace);
    const time = clock();

    await registration.ensure('web');
    expect(await redis.zscore(registry, 'web')).not.toBeNull();
    // Lost from the registry (a FLUSHALL, a failover): within the refresh, not registered again.
    await redis.zrem(registry, 'web');
    time.advance(STREAM_REGISTRATION_REFRESH_MS - 1);
    expect(registration.ensure('web')).toBeUndefined();

    time.advance(1);
    await registration.ensure('web');
    expect(await redis.zscore(registry, 'web')).not.toBeNull();
  });

  it('remembers at most 10,000 streams', async () => {
    const registration = new StreamRegistration(redis, randomName('ns'));
    for (let n = 0; n <= 10_000; n++) await registration.ensure(`s-${n}`);
    const remembered = (registration as unknown as { registeredAt: Map<string, number> }).registeredAt;
    expect(remembered.size).toBeLessThanOrEqual(10_000);
  });
});
