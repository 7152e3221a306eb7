import { within } from '@spool/shared';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { MAX_STREAM_LIMIT, type StatusReader } from './status.js';
import { STATUS_PAGE, STATUS_PAGE_CSP } from './status-page.js';

/** How long /status.json waits on Redis before answering 503. */
const STATUS_TIMEOUT_MS = 5_000;

export interface StatusRouteOptions {
  readStatus: StatusReader;
  /** The admin views' onRequest hook (adminGuard), one for every view: its refusals are logged together. */
  guard: onRequestHookHandler;
  /** Whether the flusher's Redis connection is down now (failed, connecting again): answered at once. */
  redisDown(): boolean;
}

/** The answer of an admin view that needs Redis while the flusher's connection to it is down. */
export const REDIS_UNREACHABLE = Object.freeze({
  error: 'redis_unavailable',
  message: 'Redis could not be reached (the flusher log says why)',
});

/**
 * `GET /status.json` (the pipeline's state) and `GET /status` (a page that shows it and updates
 * itself), behind ADMIN_KEYS when set (admin-guard.ts): the key is never in a URL, a page or a log.
 */
export async function statusRoutes(app: FastifyInstance, options: StatusRouteOptions): Promise<void> {
  const { guard } = options;

  app.get('/status.json', { onRequest: guard }, async (request, reply) => {
    const { limit } = request.query as { limit?: string };
    const parsed = limit === undefined ? undefined : Number(limit);
    if (parsed !== undefined && !(Number.isInteger(parsed) && parsed >= 1 && parsed <= MAX_STREAM_LIMIT)) {
      return reply.code(400).send({
        error: 'bad_request',
        message: `limit: expected a whole number from 1 to ${MAX_STREAM_LIMIT}`,
      });
    }
    // Each command would wait out the client's retries (some 4-5 s), racing the wait below: the
    // answer blamed a slow Redis as often as not, after 5 s.
    if (options.redisDown())
      return reply.code(503).header('cache-control', 'no-store').send(REDIS_UNREACHABLE);
    let refused = false;
    const reading = options.readStatus(parsed).catch((error: unknown) => {
      refused = true;
      request.log.warn({ err: error }, 'could not read the status from Redis');
      throw error;
    });
    const status = await within(reading, STATUS_TIMEOUT_MS);
    // A Redis down or hung (a Cluster without quorum) held the answer until it came back, and
    // `spool status` blamed the flusher; this says what is wrong, and the page says it too.
    if (!status) {
      // Redis answers, but there are so many streams that a reading outlasts the wait (the
      // flusher's first: later answers come from the last reading done while one goes on).
      const streamsRead = refused ? undefined : options.readStatus.readingProgress();
      return reply
        .code(503)
        .header('cache-control', 'no-store')
        .send(
          streamsRead !== undefined
            ? {
                error: 'status_reading',
                message: `still reading the streams (${streamsRead} so far): ask again in a few seconds`,
              }
            : refused
              ? REDIS_UNREACHABLE
              : {
                  error: 'redis_unavailable',
                  message: `Redis did not answer within ${STATUS_TIMEOUT_MS / 1000} s`,
                },
        );
    }
    return reply.header('cache-control', 'no-store').send(status);
  });

  app.get('/status', { onRequest: guard }, async (_request, reply) => {
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', STATUS_PAGE_CSP)
      .header('x-content-type-options', 'nosniff')
      .send(STATUS_PAGE);
  });
}
