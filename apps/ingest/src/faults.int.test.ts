import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import { createTestRedis, randomName, TcpProxy, testServices } from '@spool/testkit';
import { startTestIngest, type TestIngest } from '../test/support.js';

const redis = createTestRedis();
let proxy: TcpProxy;
let ingest: TestIngest;

beforeAll(async () => {
  const target = new URL(testServices().redisUrl);
  proxy = await TcpProxy.start(target.hostname, Number(target.port));
  ingest = await startTestIngest({ REDIS_COMMAND_TIMEOUT: '500ms' }, proxy.url('redis'));
});
afterAll(async () => {
  await ingest.close();
  await proxy.close();
  await redis.quit();
});

const post = (stream: string, event: object) =>
  ingest.app.inject({
    method: 'POST',
    url: `/v1/streams/${stream}/events`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(event),
  });

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await work();
  return { result, ms: performance.now() - start };
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('when Redis is unreachable', () => {
  it('answers 503 with Retry-After at once, is not ready, and recovers by itself when Redis returns', async () => {
    const stream = randomName();
    expect((await post(stream, { before: true })).statusCode).toBe(202);

    proxy.cut();
    await eventually(async () => (await ingest.app.inject({ url: '/readyz' })).statusCode === 503);
    // Why, in words that name no address.
    expect((await ingest.app.inject({ url: '/readyz' })).json()).toEqual({
      status: 'not ready',
      reason: expect.stringMatching(/^the Redis connection is (connecting|reconnecting|closed)$/),
    });
    const { result: refused, ms } = await timed(() => post(stream, { during: true }));
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toMatchObject({ code: 'SPOOL_REDIS_UNAVAILABLE' });
    // Bounded: no offline queue, so no waiting for a reconnect. (Not a benchmark: a generous bound.)
    expect(ms).toBeLessThan(2_000);

    proxy.restore();
    await eventually(async () => (await post(stream, { after: true })).statusCode === 202);
    expect((await ingest.app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready' });

    const lines = ((await redis.get(streamKeys(stream).buf)) ?? '').trim().split('\n');
    expect(lines.some((line) => line.includes('"during"'))).toBe(false);
    expect(lines[0]).toContain('"before"');
    expect(lines.every((line) => line.includes('"before"') || line.includes('"after"'))).toBe(true);
  });

  it('answers 503 within the command timeout when Redis stops answering, never hanging', async () => {
    const stream = randomName();
    expect((await post(stream, { before: true })).statusCode).toBe(202);

    proxy.blackhole();
    const { result, ms } = await timed(() => post(stream, { during: true }));
    proxy.restore();

    expect(result.statusCode).toBe(503);
    expect(result.json()).toMatchObject({ code: 'SPOOL_REDIS_UNAVAILABLE' });
    expect(ms).toBeGreaterThanOrEqual(400);
    expect(ms).toBeLessThan(3_000);
    // The hung connection is dropped by the timeout and replaced; the service carries on.
    await eventually(async () => (await post(stream, { after: true })).statusCode === 202);
  });
});
