import { afterAll, describe, expect, it } from '@jest/globals';
import { connectRedis } from '@spool/shared';
import { createTestRedis, randomName, TcpProxy, testServices } from '@spool/testkit';
import { redisNotAnswering } from './redis-answers.js';

const admin = createTestRedis();

afterAll(async () => {
  await admin.quit();
});

describe('redisNotAnswering', () => {
  it('is undefined while Redis answers, and says when it hangs or refuses the PING', async () => {
    const target = new URL(testServices().redisUrl);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port));
    const redis = connectRedis(
      { kind: 'standalone', url: proxy.url('redis') },
      { maxRetriesPerRequest: null },
    );
    // A user whose ACL leaves PING out: Redis answers, with an error.
    const user = randomName('noping');
    await admin.call('ACL', 'SETUSER', user, 'on', '>secret-password', '~*', '+@all', '-ping');
    const refusing = connectRedis(
      { kind: 'standalone', url: `redis://${user}:secret-password@${target.host}` },
      { maxRetriesPerRequest: 1 },
    );
    try {
      // Answered: as soon as Redis answers, however long a loaded machine makes that (no margin to miss).
      expect(await redisNotAnswering(redis, 30_000)).toBeUndefined();
      expect(await redisNotAnswering(refusing, 30_000)).toBe('Redis answered a PING with NOPERM');
      proxy.blackhole();
      expect(await redisNotAnswering(redis, 500)).toBe('Redis did not answer a PING within 500 ms');
    } finally {
      proxy.restore();
      redis.disconnect();
      refusing.disconnect();
      await admin.call('ACL', 'DELUSER', user);
      await proxy.close();
    }
  });
});
