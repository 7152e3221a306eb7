import { describe, expect, it } from '@jest/globals';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import { loggerOptions } from './logger.js';
import { notFoundWithoutSecrets } from './not-found.js';

describe('notFoundWithoutSecrets', () => {
  it('answers and logs a path no route has with the secrets of its query hidden', async () => {
    const lines: string[] = [];
    // The services' own logger: the request's line hides the key too.
    const logger = pino(loggerOptions('test', 'info'), { write: (line: string) => lines.push(line) });
    const app = Fastify({ loggerInstance: logger as FastifyBaseLogger });
    notFoundWithoutSecrets(app);
    const secret = 'admin-key-0123456789abcdef';
    for (const url of [
      `/status/?key=${secret}`,
      `/queue?token=${secret}`,
      `/metrics?a=1&writeKey=${secret}`,
    ]) {
      const answer = await app.inject({ method: 'GET', url });
      expect(answer.statusCode).toBe(404);
      expect(answer.json()).toMatchObject({ error: 'Not Found', statusCode: 404 });
      expect(answer.body).not.toContain(secret);
    }
    const notFound = lines.map((line) => JSON.parse(line).msg).filter((msg) => /not found$/.test(msg));
    expect(notFound).toEqual([
      'Route GET:/status/?key=[redacted] not found',
      'Route GET:/queue?token=[redacted] not found',
      'Route GET:/metrics?a=1&writeKey=[redacted] not found',
    ]);
    expect(lines.join('\n')).not.toContain(secret);
    await app.close();
  });

  it("announces to a HEAD the Content-Length of GET's answer", async () => {
    const app = Fastify();
    notFoundWithoutSecrets(app);
    const get = await app.inject({ method: 'GET', url: '/nowhere' });
    const head = await app.inject({ method: 'HEAD', url: '/nowhere' });
    expect(head.statusCode).toBe(404);
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.body)));
    await app.close();
  });
});
