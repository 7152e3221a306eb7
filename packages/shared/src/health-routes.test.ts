import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import Fastify from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { healthRoutes } from './health-routes.js';

/** An app with the health routes, whose readiness the test sets, and its log lines. */
async function appWithReadiness() {
  const readiness: { reason: string | undefined } = { reason: undefined };
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const app = Fastify({ loggerInstance: pino({ level: 'info' }, stream), disableRequestLogging: true });
  await app.register(healthRoutes, { notReadyReason: () => readiness.reason, registry: new Registry() });
  const readyz = async () => {
    const answer = await app.inject({ url: '/readyz' });
    return { status: answer.statusCode, body: answer.json() };
  };
  return { app, readiness, lines, readyz };
}

describe('/readyz', () => {
  it('answers 200 while ready, and 503 with the reason while not', async () => {
    const { app, readiness, readyz } = await appWithReadiness();
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready' } });
    readiness.reason = '2 of 3 Redis Cluster masters connected';
    expect(await readyz()).toEqual({
      status: 503,
      body: { status: 'not ready', reason: '2 of 3 Redis Cluster masters connected' },
    });
    await app.close();
  });

  it('logs each change of readiness once, however often it is asked', async () => {
    const { app, readiness, lines, readyz } = await appWithReadiness();
    await readyz();
    readiness.reason = 'the Redis connection is reconnecting';
    await readyz();
    await readyz();
    readiness.reason = 'shutting down';
    await readyz();
    readiness.reason = undefined;
    await readyz();
    await readyz();
    expect(lines.map(({ level, msg, reason, was }) => ({ level, msg, reason, was }))).toEqual([
      { level: 40, msg: 'not ready', reason: 'the Redis connection is reconnecting', was: undefined },
      { level: 40, msg: 'not ready', reason: 'shutting down', was: undefined },
      { level: 30, msg: 'ready again', reason: undefined, was: 'shutting down' },
    ]);
    await app.close();
  });
});
