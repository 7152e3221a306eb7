import { keyMatcher, presentedKey } from '@spool/shared';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The onRequest hook of every admin view (the status page and data, the queue board): with
 * ADMIN_KEYS set, a request needs `Authorization: Bearer <key>`, or HTTP Basic with the key as
 * user name (what a browser sends after its login prompt, and on the page's own requests after).
 * Without ADMIN_KEYS the views are open, as /metrics is. The key is never echoed.
 */
export function adminGuard(adminKeys: readonly string[]) {
  const isAdmin = keyMatcher(adminKeys.map((key) => ({ key, value: true })));
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (adminKeys.length === 0 || isAdmin(presentedKey(request.headers.authorization))) return;
    await reply.code(401).header('www-authenticate', 'Basic realm="Spool status", charset="UTF-8"').send({
      error: 'unauthorized',
      message: 'this view needs one of ADMIN_KEYS (Bearer, or Basic as user name)',
    });
  };
}
