import { afterAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import { createTestRedis, randomName } from '@spool/testkit';
import { startTestIngest, type TestIngest } from '../test/support.js';

const redis = createTestRedis();
afterAll(() => redis.quit());

/** Limits of 3 a window, in a namespace of their own: every test's address counts from zero. */
const limit = () => ({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW: '30s', REDIS_NAMESPACE: randomName('rl') });

function send(
  ingest: TestIngest | undefined,
  stream: string,
  { authorization, forwardedFor, n = 0 }: { authorization?: string; forwardedFor?: string; n?: number } = {},
) {
  return (ingest as TestIngest).app.inject({
    method: 'POST',
    url: `/v1/streams/${stream}/events`,
    headers: {
      'content-type': 'application/json',
      ...(authorization ? { authorization } : {}),
      ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}),
    },
    payload: JSON.stringify({ n }),
  });
}

async function statuses(count: number, request: (i: number) => ReturnType<typeof send>): Promise<number[]> {
  const answers: number[] = [];
  for (let i = 0; i < count; i += 1) answers.push((await request(i)).statusCode);
  return answers;
}

const storedNumbers = async (stream: string, namespace: string) =>
  ((await redis.get(streamKeys(stream, namespace).buf)) ?? '')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line).n);

describe('the rate limit', () => {
  it('answers 429 with Retry-After once a key passes RATE_LIMIT_MAX, counted across replicas', async () => {
    const env = { ...limit(), WRITE_KEYS: 'limited-key-1:*;other-key-22:*' };
    const replicas = [await startTestIngest(env), await startTestIngest(env)];
    try {
      const stream = randomName();
      const answers = await statuses(3, (n) =>
        send(replicas[n % 2], stream, { authorization: 'Bearer limited-key-1', n }),
      );
      const limited = await send(replicas[1], stream, { authorization: 'Bearer limited-key-1', n: 99 });

      expect(answers).toEqual([202, 202, 202]);
      expect(limited.statusCode).toBe(429);
      expect(limited.json()).toMatchObject({ statusCode: 429, code: 'SPOOL_RATE_LIMITED' });
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.headers['x-ratelimit-reset']).toBeDefined();
      expect(
        (await send(replicas[0], stream, { authorization: 'Bearer other-key-22', n: 100 })).statusCode,
      ).toBe(202);
      expect(await storedNumbers(stream, env.REDIS_NAMESPACE)).toEqual([0, 1, 2, 100]);
      // The key itself never reaches Redis, only a digest of it.
      expect(await redis.keys(`${env.REDIS_NAMESPACE}:ratelimit:*`)).not.toEqual([]);
      expect(await redis.keys(`${env.REDIS_NAMESPACE}:ratelimit:*limited-key-1*`)).toEqual([]);
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
    }
  });

  it('on an open service, counts the client address whatever key a request makes up', async () => {
    const ingest = await startTestIngest(limit());
    try {
      const stream = randomName();
      const answers = await statuses(5, (n) =>
        send(ingest, stream, { authorization: `Bearer random-${randomName()}`, n }),
      );
      expect(answers).toEqual([202, 202, 202, 429, 429]);
    } finally {
      await ingest.close();
    }
  });

  it('counts refused keys against the address, so guessing keys is limited too', async () => {
    const ingest = await startTestIngest({ ...limit(), WRITE_KEYS: 'the-real-key-1:*' });
    try {
      const stream = randomName();
      const guesses = await statuses(5, (n) =>
        send(ingest, stream, { authorization: `Bearer guess-${n}-xyz`, n }),
      );
      expect(guesses).toEqual([401, 401, 401, 429, 429]);
      expect((await send(ingest, stream, { n: 7 })).statusCode).toBe(429);
      // The verified key has a bucket of its own, untouched by the guesses from its address.
      expect((await send(ingest, stream, { authorization: 'Bearer the-real-key-1', n: 8 })).statusCode).toBe(
        202,
      );
    } finally {
      await ingest.close();
    }
  });

  it('ignores X-Forwarded-For by default: behind a proxy, clients share its address', async () => {
    const ingest = await startTestIngest(limit());
    try {
      const stream = randomName();
      const answers = await statuses(4, (n) => send(ingest, stream, { forwardedFor: `203.0.113.${n}`, n }));
      expect(answers).toEqual([202, 202, 202, 429]);
    } finally {
      await ingest.close();
    }
  });

  it('with TRUST_PROXY naming the proxy, counts each client behind it by X-Forwarded-For', async () => {
    // app.inject() comes from 127.0.0.1: the trusted proxy here.
    const ingest = await startTestIngest({ ...limit(), TRUST_PROXY: '127.0.0.1' });
    try {
      const stream = randomName();
      const alice = await statuses(4, (n) => send(ingest, stream, { forwardedFor: '203.0.113.10', n }));
      const bob = await statuses(1, (n) => send(ingest, stream, { forwardedFor: '203.0.113.20', n: 10 + n }));
      // A client cannot escape its bucket by prepending addresses of its own choosing.
      const spoof = await send(ingest, stream, { forwardedFor: '198.51.100.1, 203.0.113.10', n: 20 });
      // Nor by the port a proxy may write beside the address (Azure Application Gateway does).
      const ported = await statuses(2, (n) =>
        send(ingest, stream, { forwardedFor: `203.0.113.10:4000${n}`, n: 30 + n }),
      );
      const ported6 = await statuses(4, (n) =>
        send(ingest, stream, { forwardedFor: `[2001:db8::${n + 1}]:443`, n: 40 + n }),
      );
      expect(alice).toEqual([202, 202, 202, 429]);
      expect(bob).toEqual([202]);
      expect(spoof.statusCode).toBe(429);
      expect(ported).toEqual([429, 429]);
      expect(ported6).toEqual([202, 202, 202, 429]);
    } finally {
      await ingest.close();
    }
  });

  it('reads a trusted proxy written with a port in X-Forwarded-For as that proxy, not as the client', async () => {
    // Clients -> a trusted proxy (127.0.0.2) -> one that writes its peer with a port -> Spool.
    // Matched with its port, the trusted proxy was taken for the client: every client behind it
    // shared one bucket (a review's run).
    const ingest = await startTestIngest({ ...limit(), TRUST_PROXY: '127.0.0.0/8,::1' });
    try {
      const stream = randomName();
      const alice = await statuses(4, (n) =>
        send(ingest, stream, { forwardedFor: `203.0.113.30, 127.0.0.2:4000${n}`, n }),
      );
      const bob = await send(ingest, stream, { forwardedFor: '203.0.113.31, 127.0.0.2:40009', n: 10 });
      const carol = await send(ingest, stream, { forwardedFor: '2001:db8::31, [::1]:40009', n: 11 });
      expect(alice).toEqual([202, 202, 202, 429]);
      expect(bob.statusCode).toBe(202);
      expect(carol.statusCode).toBe(202);
    } finally {
      await ingest.close();
    }
  });
});
