import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import Fastify from 'fastify';
import { pino } from 'pino';
import { flushRepeatedLogs } from './repeated-log.js';
import { type RequestLogsOptions, requestLogs } from './request-logs.js';

type Line = Record<string, unknown> & { req?: { url?: string }; res?: { statusCode?: number } };

/**
 * Requests answered 202, 401 three times (with its code), 503, by a throw, a probe and a quiet
 * path, at `level`; the lines logged, the repeated lines' windows told at the end.
 */
async function linesOf(level: string, options: Omit<RequestLogsOptions, 'codeOf'>): Promise<Line[]> {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Line);
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
  await app.inject({ method: 'POST', url: '/accepted?writeKey=secret-key' });
  for (let i = 0; i < 3; i += 1) {
    await app.inject({ method: 'POST', url: `/refused?data=${i}&writeKey=secret-key` });
  }
  for (const url of ['/unavailable', '/thrown']) await app.inject({ method: 'POST', url });
  await app.inject({ url: '/healthz' });
  await app.inject({ url: '/board/api/queues' });
  flushRepeatedLogs();
  await app.close();
  return lines;
}

describe('request logs', () => {
  it("at info, with successes at debug (the ingest's): refusals told once per status and code, then with how many came; nothing of the rest", async () => {
    const lines = await linesOf('info', { successesAt: 'debug' });
    expect(
      lines.map(({ level, msg, path, statusCode, code, repeatedSinceLastLine, req }) => ({
        level,
        msg,
        path,
        statusCode,
        code,
        repeatedSinceLastLine,
        req,
      })),
    ).toEqual([
      // The first at once, its path without the query (which may hold anything).
      {
        level: 30,
        msg: 'requests refused',
        path: '/refused',
        statusCode: 401,
        code: 'SPOOL_UNAUTHORIZED',
        repeatedSinceLastLine: undefined,
        req: undefined,
      },
      // A 5xx is the service's own refusal: a warning.
      {
        level: 40,
        msg: 'requests refused',
        path: '/unavailable',
        statusCode: 503,
        code: undefined,
        repeatedSinceLastLine: undefined,
        req: undefined,
      },
      // Fastify's own error line for a throw, then its refusal's.
      {
        level: 50,
        msg: 'broken',
        path: undefined,
        statusCode: undefined,
        code: undefined,
        repeatedSinceLastLine: undefined,
        req: expect.anything(),
      },
      {
        level: 40,
        msg: 'requests refused',
        path: '/thrown',
        statusCode: 500,
        code: undefined,
        repeatedSinceLastLine: undefined,
        req: undefined,
      },
      // The window's last stands for the rest: 3 refusals in all.
      {
        level: 30,
        msg: 'requests refused',
        path: '/refused',
        statusCode: 401,
        code: 'SPOOL_UNAUTHORIZED',
        repeatedSinceLastLine: 1,
        req: undefined,
      },
    ]);
    expect(JSON.stringify(lines)).not.toContain('secret-key');
  });

  it('at debug, with successes at debug: every request but the probes, as Fastify logs them, each refusal with its code', async () => {
    const lines = await linesOf('debug', { successesAt: 'debug' });
    expect(lines.filter(({ msg }) => msg === 'incoming request').map(({ req }) => req?.url)).toEqual([
      '/accepted?writeKey=secret-key',
      '/refused?data=0&writeKey=secret-key',
      '/refused?data=1&writeKey=secret-key',
      '/refused?data=2&writeKey=secret-key',
      '/unavailable',
      '/thrown',
      '/board/api/queues',
    ]);
    expect(
      lines
        .filter(({ msg }) => msg === 'request completed')
        .map(({ level, res, code }) => [level, res?.statusCode, code]),
    ).toEqual([
      [20, 202, undefined],
      [20, 401, 'SPOOL_UNAUTHORIZED'],
      [20, 401, 'SPOOL_UNAUTHORIZED'],
      [20, 401, 'SPOOL_UNAUTHORIZED'],
      [20, 503, undefined],
      [20, 500, undefined],
      [20, 200, undefined],
    ]);
    expect(lines.filter(({ msg }) => msg === 'requests refused')).toEqual([]);
  });

  it("at info, with successes at info (an admin's port): one line for each success, with its request; refusals told as repeated lines; no probe, no quiet path", async () => {
    const lines = await linesOf('info', { quietPrefixes: ['/board/api/'] });
    expect(lines.filter(({ msg }) => msg === 'incoming request')).toEqual([]);
    expect(
      lines
        .filter(({ msg }) => msg === 'request completed')
        .map(({ req, res }) => [req?.url, res?.statusCode]),
    ).toEqual([['/accepted?writeKey=secret-key', 202]]);
    expect(
      lines
        .filter(({ msg }) => msg === 'requests refused')
        .map(({ statusCode, repeatedSinceLastLine }) => [statusCode, repeatedSinceLastLine]),
    ).toEqual([
      [401, undefined],
      [503, undefined],
      [500, undefined],
      [401, 1],
    ]);
  });
});
