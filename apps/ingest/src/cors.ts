import type { FastifyCorsOptions } from '@fastify/cors';

/**
 * CORS for the event routes. Any page may send: the browser SDKs send headers of their own
 * (AnonymousId, SentAt, X-Retry-Count, Rsa-*), so the preflight's requested headers are allowed
 * as asked; Retry-After is exposed, or analytics.js could not read it.
 */
const EXPOSED_HEADERS = [
  'Retry-After',
  'X-Request-Id',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
];

export const CORS_OPTIONS: FastifyCorsOptions = {
  origin: '*',
  methods: ['GET', 'POST'],
  exposedHeaders: EXPOSED_HEADERS,
  maxAge: 86_400,
  // An OPTIONS that is no preflight (no Origin) gets the same 204, not a text/plain 400.
  strictPreflight: false,
};

/**
 * What @fastify/cors adds to an answer, for the answers Fastify gives before any hook runs (a
 * malformed path): a page can read them, and their request id, as it reads any other.
 */
export const EARLY_ANSWER_CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': EXPOSED_HEADERS.join(', '),
} as const;
