import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FlushJobData } from '@spool/shared';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { adminGuard } from './admin-guard.js';

export const QUEUE_BOARD_PATH = '/queues';

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
  options: { queue: Queue<FlushJobData>; adminKeys: readonly string[] },
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
    scope.addHook('onRequest', adminGuard(options.adminKeys));
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
