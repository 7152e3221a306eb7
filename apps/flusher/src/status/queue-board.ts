import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { type FlushJobData, parseFlushJobId } from '@spool/shared';
import type { Queue } from 'bullmq';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { REDIS_UNREACHABLE } from './status-routes.js';

export const QUEUE_BOARD_PATH = '/queues';

/** How long an answer of the board's API waits on Redis before it is a 503 (its page polls it). */
const BOARD_API_TIMEOUT_MS = 5_000;

/**
 * The most jobs one page of the board's API may ask for: its own settings offer no more. The API
 * itself took any number, and `jobsPerPage=1000000` read every job of a status into memory (six
 * such requests took a flusher from 358 to 580 MiB, past a 512 Mi pod's limit, a review's run).
 */
export const MAX_JOBS_PER_PAGE = 300;

/**
 * Query parameters the board's API decodes once more (`decodeURIComponent`), after Fastify has:
 * a stray `%` in them (`activeQueue=100%25done`) threw there, and the board answered 500.
 */
const QUEUE_NAME_PARAMETERS = ['activeQueue', 'queueName'] as const;

/** The board's changes to every queue at once (routes), which it makes to writable queues only. */
const BOARD_WIDE_CHANGES = new Set([
  `${QUEUE_BOARD_PATH}/api/queues/pause`,
  `${QUEUE_BOARD_PATH}/api/queues/resume`,
]);

function cannotDecode(value: string): boolean {
  try {
    decodeURIComponent(value);
    return false;
  } catch {
    return true;
  }
}

/**
 * The board's CSP: never framed, and nothing loaded from elsewhere. Its page links Google's font
 * service, which would tell Google who opens an admin view, and when; the browser refuses that
 * and the board falls back to the system's fonts. (Its own inline styles keep it from the status
 * page's stricter policy.)
 */
export const QUEUE_BOARD_CSP =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
  "object-src 'none'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'";

/**
 * Bull Board over the flush queue at /queues, behind ADMIN_KEYS like the status page: each job,
 * its attempts and errors. Read-only: a flush job removed by hand would only be added again by
 * the sweep, and retrying one is what the flusher does by itself.
 */
export async function queueBoard(
  app: FastifyInstance,
  options: {
    queue: Queue<FlushJobData>;
    /** The admin views' onRequest hook (adminGuard). */
    guard: onRequestHookHandler;
    /** Whether the flusher's Redis connection is down now: the API's answers are then 503 at once. */
    redisDown(): boolean;
  },
): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  createBullBoard({
    queues: [new BullMQAdapter(options.queue, { readOnlyMode: true, description: 'Spool flush jobs' })],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Spool flush queue' } },
  });
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  // Its own plugin scope: the guard covers the board's pages, assets and API, and nothing else.
  await app.register(async (scope) => {
    scope.addHook('onRequest', options.guard);
    // The board's API reads Redis with no time limit: while Redis hangs (stopped, or a Cluster
    // without quorum) its answers never came. They are 503 after a while instead, as
    // /status.json's are; the board's own late answer is then dropped (Fastify warns of it).
    scope.addHook('onRequest', async (request, reply) => {
      // The route's pattern, not the URL: `/queues/%61pi/…` reaches the same route.
      if (!request.routeOptions.url?.startsWith(`${QUEUE_BOARD_PATH}/api/`)) return;
      // The board-wide pause and resume skip read-only queues and answered 200, the queue running
      // on: refused as the flush queue's own pause is (a review's run).
      if (BOARD_WIDE_CHANGES.has(request.routeOptions.url)) {
        return reply.code(405).send({ error: { key: 'ERRORS.QUEUE_READ_ONLY' } });
      }
      // BullMQ keeps a job under `<prefix>:<id>`, beside its own keys (`events`, `id`, `meta`, …):
      // asked for such a "job", the board read those keys as one and answered 500 (a stream's
      // WRONGTYPE) or 200 with the queue's settings as its data. No flush job has such an id.
      const { jobId } = request.params as { jobId?: string };
      if (jobId !== undefined && parseFlushJobId(jobId) === undefined) {
        return reply.code(404).send({ error: { key: 'ERRORS.JOB_NOT_FOUND' } });
      }
      const { jobsPerPage, ...names } = request.query as Record<string, string | string[] | undefined>;
      if ([jobsPerPage ?? []].flat().some((value) => !(Number(value) <= MAX_JOBS_PER_PAGE))) {
        return reply.code(400).send({
          error: 'bad_request',
          message: `jobsPerPage: a number of at most ${MAX_JOBS_PER_PAGE}`,
        });
      }
      const undecodable = QUEUE_NAME_PARAMETERS.find((name) => [names[name] ?? []].flat().some(cannotDecode));
      if (undecodable) {
        return reply.code(400).send({ error: 'bad_request', message: `${undecodable}: a broken %-escape` });
      }
      if (options.redisDown()) return reply.code(503).send(REDIS_UNREACHABLE);
      const timer = setTimeout(() => {
        if (reply.sent) return;
        reply.code(503).send({
          error: 'redis_unavailable',
          message: `Redis did not answer within ${BOARD_API_TIMEOUT_MS / 1000} s`,
        });
      }, BOARD_API_TIMEOUT_MS);
      reply.raw.once('close', () => clearTimeout(timer));
    });
    // An admin view: never kept by a cache, never framed by another page, never sniffed.
    scope.addHook('onSend', async (_request, reply) => {
      reply.header('cache-control', 'no-store');
      reply.header('x-content-type-options', 'nosniff');
      reply.header('content-security-policy', QUEUE_BOARD_CSP);
      reply.header('x-frame-options', 'DENY');
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
  });
}
