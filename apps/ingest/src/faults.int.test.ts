import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loggerOptions, streamKeys } from '@spool/shared';
import { createTestRedis, randomName, TcpProxy, testServices } from '@spool/testkit';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { startTestIngest, type TestIngest, whenReady } from '../test/support.js';

const redis = createTestRedis();
let proxy: TcpProxy;
let ingest: TestIngest;
/** The ingest's log lines, parsed. */
const logged: Array<{ msg: string; err?: { message: string } }> = [];
const logSink = new Writable({
  write(chunk, _encoding, done) {
    for (const line of String(chunk).split('\n').filter(Boolean)) logged.push(JSON.parse(line));
    done();
  },
});
/** The messages of the errors the ingest gave for answering 503, logged since `from`. */
const refusalsLoggedSince = (from: number) =>
  logged.slice(from).flatMap((line) => (line.msg.endsWith('answering 503') ? [line.err?.message] : []));

beforeAll(async () => {
  const target = new URL(testServices().redisUrl);
  proxy = await TcpProxy.start(target.hostname, Number(target.port));
  ingest = await startTestIngest(
    { REDIS_COMMAND_TIMEOUT: '500ms' },
    proxy.url('redis'),
    pino(loggerOptions('spool-ingest', 'info'), logSink),
  );
});
afterAll(async () => {
  await ingest.close();
  await proxy.close();
  await redis.quit();
});

const postTo = (target: TestIngest, stream: string, event: object) =>
  target.app.inject({
    method: 'POST',
    url: `/v1/streams/${stream}/events`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(event),
  });
const post = (stream: string, event: object) => postTo(ingest, stream, event);

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
    const logFrom = logged.length;
    const refused = await post(stream, { during: true });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toMatchObject({ code: 'SPOOL_REDIS_UNAVAILABLE' });
    // At once: refused while disconnected (no offline queue), not held until the command timeout
    // (which the next test shows this probe tells apart).
    const reasons = refusalsLoggedSince(logFrom);
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons).not.toContain('Command timed out');

    proxy.restore();
    await eventually(async () => (await post(stream, { after: true })).statusCode === 202);
    expect((await ingest.app.inject({ url: '/readyz' })).json()).toEqual({ status: 'ready' });

    const lines = ((await redis.get(streamKeys(stream).buf)) ?? '').trim().split('\n');
    expect(lines.some((line) => line.includes('"during"'))).toBe(false);
    expect(lines[0]).toContain('"before"');
    expect(lines.every((line) => line.includes('"before"') || line.includes('"after"'))).toBe(true);
  });

  it('answers 503 by the command timeout when Redis stops answering, never hanging', async () => {
    await whenReady(ingest.redis); // cut off by an earlier test, through the same proxy
    // The timeout that answers it is REDIS_COMMAND_TIMEOUT's: said by the client, not by a clock
    // (the answer's time is not asserted; a timeout 40 times longer passed this test).
    expect((ingest.redis as Redis).options.commandTimeout).toBe(500);
    const stream = randomName();
    expect((await post(stream, { before: true })).statusCode).toBe(202);

    let connectionsDropped = 0;
    const countDrop = () => connectionsDropped++;
    ingest.redis.on('close', countDrop);
    proxy.blackhole();
    const logFrom = logged.length;
    const result = await post(stream, { during: true });
    expect(result.statusCode).toBe(503);
    expect(result.json()).toMatchObject({ code: 'SPOOL_REDIS_UNAVAILABLE' });
    // Answered by the command timeout, which also drops the stalled connection.
    expect(refusalsLoggedSince(logFrom)).toContain('Command timed out');
    await eventually(async () => connectionsDropped > 0);
    proxy.restore();
    ingest.redis.off('close', countDrop);
    // The hung connection is dropped by the timeout and replaced; the service carries on.
    await eventually(async () => (await post(stream, { after: true })).statusCode === 202);
  });
});
