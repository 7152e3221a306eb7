import { addressedHost, basicPassword, keyMatcher, openHost, presentedKey, repeatedLog } from '@spool/shared';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The onRequest hook of every admin view (the status page and data, the queue board): with
 * ADMIN_KEYS set, a request needs `Authorization: Bearer <key>`, or HTTP Basic with the key as
 * user name or as password (what a browser sends after its login prompt, and on the page's own
 * requests after: the key typed in the prompt's password field was refused, and the prompt came
 * back with no word why).
 * Without ADMIN_KEYS the views are open, as /metrics is, to requests addressed to the flusher by
 * an IP address or `localhost` (openHost). The key is never echoed. Refusals are logged (the
 * probes' own request lines are not), one line per 10 s with how many came meanwhile: a leaked
 * or guessed key being tried is seen.
 */
export function adminGuard(adminKeys: readonly string[], log: FastifyBaseLogger) {
  const matcherOf = (keys: readonly string[]) => keyMatcher(keys.map((key) => ({ key, value: true })));
  let isAdmin = matcherOf(adminKeys);
  const open = adminKeys.length === 0;
  const refused = repeatedLog(log, 'admin view refused');
  const guard = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (open) {
      if (openHost(addressedHost(request.headers.host))) return;
      refused(undefined, {
        reason: 'open views asked by a name',
        path: request.routeOptions.url,
        ip: request.ip,
      });
      await reply.code(403).send({
        error: 'forbidden',
        message:
          'ADMIN_KEYS is not set: the admin views answer only requests addressed to an IP address or localhost; set ADMIN_KEYS to reach them by a name',
      });
      return;
    }
    const { authorization } = request.headers;
    if (isAdmin(presentedKey(authorization)) || isAdmin(basicPassword(authorization))) return;
    refused(undefined, { reason: 'no admin key', path: request.routeOptions.url, ip: request.ip });
    await reply.code(401).header('www-authenticate', 'Basic realm="Spool status", charset="UTF-8"').send({
      error: 'unauthorized',
      message: 'this view needs one of ADMIN_KEYS (Bearer, or Basic as user name or password)',
    });
  };
  /** Other keys in use at once (ADMIN_KEYS_FILE changed); keyed views never become open. */
  const replace = (keys: readonly string[]) => {
    if (keys.length > 0) isAdmin = matcherOf(keys);
  };
  return Object.assign(guard, { replace });
}
