import type { FastifyInstance } from 'fastify';
import { loggableUrl } from './logger.js';

/**
 * Fastify's own 404 logs the whole URL in its message: a mistyped path of an admin view or of
 * /metrics carries its key in the query (`/status/?key=<admin key>` was in the flusher's log
 * whole, where the request's own line hid it; a review's). This one says, and answers, the
 * URL as the request log does, with its secrets hidden.
 */
export function notFoundWithoutSecrets(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) => {
    const message = `Route ${methodAnswered(request.method)}:${loggableUrl(request.url.slice(0, 200))} not found`;
    request.log.info(message);
    return reply.code(404).send({ message, error: 'Not Found', statusCode: 404 });
  });
}

/**
 * The method a 404 names: a HEAD's is GET's, whose headers it must repeat (RFC 9110, 9.3.2), its
 * Content-Length too: naming HEAD, the answer announced a byte more than GET's (HTTP review).
 */
export function methodAnswered(method: string): string {
  return method === 'HEAD' ? 'GET' : method;
}
