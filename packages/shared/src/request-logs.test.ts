import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import Fastify from 'fastify';
import { pino } from 'pino';
import { type RequestLogsOptions, requestLogs } from './request-logs.js';

/** Requests answered 202, 401 (with its code), 503, by a throw, and a probe, at `level`; the lines logged. */
async function linesOf(level: string, options: Omit<RequestLogsOptions, 'codeOf'>) {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const codes = new WeakMap<object, string>();
  const app = Fastify({
    loggerInstance: pino({ level }, stream),
    logController: requestLogs({ ...options, codeOf: (request) => codes.get(request) }),
  });
  app.post('/accepted', async (_request, reply) => reply.code(202).send({ accepted: 1 }));
  app.post('/refused', async (request, reply) => {
    codes.set(request, 'SPOOL_UNAUTHORIZED');
    return reply.code(401).send({ error: 'unauthorized' });
  });
  app.post('/unavailable', async (_request, reply) => reply.code(503).send({ error: 'unavailable' }));
  app.post('/thrown', async () => {
    throw new Error('broken');
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/board/api/queues', async () => ({}));
  for (const url of ['/accepted', '/refused', '/unavailable', '/thrown']) {
    await app.inject({ method: 'POST', url: `${url}?writeKey=secret-key` });
  }
  await app.inject({ url: '/healthz' });
  await app.inject({ url: '/board/api/queues' });
  await app.close();
  return lines
    .filter(({ reqId }) => reqId !== undefined)
    .map(({ level: levelNumber, msg, req, res, code }) => ({
      level: levelNumber,
      msg,
      ...(code === undefined ? {} : { code }),
      url: (req as { url?: string } | undefined)?.url,
      statusCode: (res as { statusCode?: number } | undefined)?.statusCode,
    }));
}

describe('request logs', () => {
  it("at info, with successes at debug (the ingest's): one line for each request answered 400 or above, with its request; none for the others", async () => {
    expect(await linesOf('info', { successesAt: 'debug' })).toEqual([
      {
        level: 30,
        msg: 'request completed',
        code: 'SPOOL_UNAUTHORIZED',
        url: '/refused?writeKey=secret-key',
        statusCode: 401,
      },
      { level: 30, msg: 'request completed', url: '/unavailable?writeKey=secret-key', statusCode: 503 },
      { level: 50, msg: 'broken', url: '/thrown?writeKey=secret-key', statusCode: 500 },
      { level: 30, msg: 'request completed', url: '/thrown?writeKey=secret-key', statusCode: 500 },
    ]);
  });

  it('at debug, with successes at debug: every request but the probes, as Fastify logs them', async () => {
    const lines = await linesOf('debug', { successesAt: 'debug' });
    expect(lines.filter(({ msg }) => msg === 'incoming request').map(({ url }) => url)).toEqual([
      '/accepted?writeKey=secret-key',
      '/refused?writeKey=secret-key',
      '/unavailable?writeKey=secret-key',
      '/thrown?writeKey=secret-key',
      '/board/api/queues',
    ]);
    expect(
      lines
        .filter(({ msg }) => msg === 'request completed')
        .map(({ level, statusCode }) => [level, statusCode]),
    ).toEqual([
      [20, 202],
      [30, 401],
      [30, 503],
      [30, 500],
      [20, 200],
    ]);
  });

  it('at info, with successes at info: every request but the probes and the quiet prefixes', async () => {
    const lines = await linesOf('info', { quietPrefixes: ['/board/api/'] });
    expect(lines.filter(({ msg }) => msg === 'incoming request')).toHaveLength(4);
    expect(
      lines.filter(({ msg }) => msg === 'request completed').map(({ statusCode }) => statusCode),
    ).toEqual([202, 401, 503, 500]);
  });
});
