import type { FastifyCorsOptions } from '@fastify/cors';

/**
 * CORS for the event routes. Any page may send: the browser SDKs send headers of their own
 * (AnonymousId, SentAt, X-Retry-Count, Rsa-*), so the preflight's requested headers are allowed
 * as asked; Retry-After is exposed, or analytics.js could not read it.
 *
 * The page's origin is named back, with credentials allowed, rather than `*`: a browser refuses
 * `*` to a request sent with credentials, and such requests are common (a sendBeacon of a JSON
 * Blob, analytics.js's `credentials: 'include'`), so their events were lost. Nothing on the
 * ingest reads a cookie or answers a browser's own login (the admin views are the flusher's, and
 * /metrics and the probes carry no CORS headers), so a credentialed request can do and read no
 * more than the same request without credentials.
 */
const EXPOSED_HEADERS = [
  'Retry-After',
  'X-Request-Id',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
];

export const CORS_OPTIONS: FastifyCorsOptions = {
  origin: true,
  credentials: true,
  methods: ['GET', 'POST'],
  exposedHeaders: EXPOSED_HEADERS,
  maxAge: 86_400,
  // An OPTIONS that is no preflight (no Origin) gets the same 204, not a text/plain 400.
  strictPreflight: false,
};

/**
 * What @fastify/cors adds to an answer, for the answers given before any hook runs: a page can
 * read them, and their request id, as it reads any other. `origin` is the request's `Origin`;
 * without one (Node's parser refused the request before its headers were read) any page may
 * read it, but only without credentials.
 */
export function earlyAnswerCorsHeaders(origin: string | string[] | undefined): Record<string, string> {
  const exposed = { 'access-control-expose-headers': EXPOSED_HEADERS.join(', ') };
  return typeof origin === 'string'
    ? {
        'access-control-allow-origin': origin,
        'access-control-allow-credentials': 'true',
        vary: 'Origin',
        ...exposed,
      }
    : { 'access-control-allow-origin': '*', ...exposed };
}
