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

/**
 * performance.now() as the registration reads it, moved by hand, from a whole millisecond: from a
 * fraction, (now + 60000) - now is 59999.99999999999 for about one start in eight, and a stream a
 * whole refresh old read as fresh (a review's run).
 */
function clock() {
  let now = Math.floor(performance.now());
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

  /** Which of `streams` an append would register again (ensure answers a registration). */
  const registeredAgain = async (registration: StreamRegistration, streams: string[]) => {
    const registrations = streams.map((stream) => ({ stream, registering: registration.ensure(stream) }));
    await Promise.all(registrations.map(({ registering }) => registering));
    return registrations.filter(({ registering }) => registering !== undefined).map(({ stream }) => stream);
  };
  const names = (from: number, to: number) => Array.from({ length: to - from }, (_, n) => `s-${from + n}`);

  it('remembers at most its maximum: past it, the streams registered most recently, not none', async () => {
    const registration = new StreamRegistration(redis, randomName('ns'), undefined, 100);
    clock();
    for (const stream of names(0, 150)) await registration.ensure(stream);
    // Emptied whole when full, as before, it remembered the last 50 only.
    expect(await registeredAgain(registration, names(50, 150))).toEqual([]);
    expect(await registeredAgain(registration, names(0, 50))).toEqual(names(0, 50));
  });

  it('forgets the streams past the refresh first when full, and keeps a stream registered again as recent', async () => {
    const registration = new StreamRegistration(redis, randomName('ns'), undefined, 100);
    const time = clock();
    for (const stream of names(0, 50)) await registration.ensure(stream);
    time.advance(STREAM_REGISTRATION_REFRESH_MS);
    // s-0 is written again: registered again (past the refresh), now the most recent.
    await registration.ensure('s-0');
    for (const stream of names(50, 100)) await registration.ensure(stream);
    time.advance(1);
    for (const stream of names(100, 149)) await registration.ensure(stream);
    // Full at s-100: s-1 to s-49 (stale) were forgotten; s-0 and s-50 onwards were not.
    expect(await registeredAgain(registration, ['s-0', ...names(50, 149)])).toEqual([]);
    const remembered = (registration as unknown as { registeredAt: Map<string, number> }).registeredAt;
    expect(remembered.size).toBe(100);
  });
});
