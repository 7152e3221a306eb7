import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { adminGuard } from './admin-guard.js';

const KEY = 'admin-key-0123456789abcdef';

/** An app with one guarded route, and the lines its guard logged. */
function guarded(adminKeys: string[]) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const app = Fastify();
  const log = pino({ level: 'info' }, sink) as FastifyBaseLogger;
  // One guard for every view, as the flusher has: their refusals are logged together.
  const guard = adminGuard(adminKeys, log);
  app.get('/status.json', { onRequest: guard }, async () => ({ ok: true }));
  app.get('/queues/api/queues', { onRequest: guard }, async () => ({ ok: true }));
  return { app, lines };
}

describe('adminGuard', () => {
  it('logs a refused key once per 10 s with how many came meanwhile, never the key tried', async () => {
    const { app, lines } = guarded([KEY]);
    for (let i = 0; i < 6; i++) {
      const answer = await app.inject({
        url: i % 2 ? '/queues/api/queues' : '/status.json',
        headers: { authorization: 'Bearer guessed-key-0123456789' },
      });
      expect(answer.statusCode).toBe(401);
    }
    expect(
      (await app.inject({ url: '/status.json', headers: { authorization: `Bearer ${KEY}` } })).statusCode,
    ).toBe(200);
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'admin view refused', reason: 'no admin key', path: '/status.json' }),
    ]);
    expect(JSON.stringify(lines)).not.toContain('guessed-key');
  });

  it('takes new keys in place of the old, and keeps the old when given none: keyed views never open, nor lock everyone out', async () => {
    const guard = adminGuard([KEY], pino({ level: 'silent' }) as FastifyBaseLogger);
    const app = Fastify();
    app.get('/status.json', { onRequest: guard }, async () => ({ ok: true }));
    const answer = async (key?: string) =>
      (await app.inject({ url: '/status.json', headers: key ? { authorization: `Bearer ${key}` } : {} }))
        .statusCode;
    const NEW_KEY = 'new-admin-key-0123456789abcdef';
    guard.replace([NEW_KEY]);
    expect([await answer(NEW_KEY), await answer(KEY)]).toEqual([200, 401]);
    guard.replace([]);
    expect([await answer(NEW_KEY), await answer(), await answer(KEY)]).toEqual([200, 401, 401]);
  });

  it('answers open views only to requests addressed to an IP address or localhost (DNS rebinding)', async () => {
    const { app, lines } = guarded([]);
    const status = async (host: string) =>
      (await app.inject({ url: '/status.json', headers: { host } })).statusCode;
    for (const host of [
      'localhost:3001',
      '127.0.0.1:3001',
      '[::1]:3001',
      '10.0.0.7',
      'dev.localhost',
      'LOCALHOST.',
    ]) {
      expect({ host, status: await status(host) }).toEqual({ host, status: 200 });
    }
    for (const host of [
      'attacker.example:3001',
      'spool-flusher.ops.svc',
      'localhost.attacker.example',
      '127.0.0.1.nip.io',
    ]) {
      expect({ host, status: await status(host) }).toEqual({ host, status: 403 });
    }
    const refused = await app.inject({ url: '/status.json', headers: { host: 'attacker.example' } });
    expect(refused.json()).toEqual({
      error: 'forbidden',
      message: expect.stringContaining('set ADMIN_KEYS to reach them by a name'),
    });
    expect(lines).toEqual([expect.objectContaining({ reason: 'open views asked by a name' })]);
  });
});
