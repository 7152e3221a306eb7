/**
 * Fastify server options that keep a slow client from holding a connection for good (slowloris),
 * for every port Spool listens on: a request must arrive whole within 30 s, its headers too, and
 * Node checks both every 2 s (its default 30 s let a trickled request live 60–90 s); a socket that
 * sends nothing for 60 s is closed. With Fastify's defaults (no request timeout), a request whose
 * body never finished was held for good: 5,000 of them on the flusher's port held 5,000 file
 * descriptors and 65 MB (a review's run). Documented in docs/api.md ("Timeouts").
 */
export interface SlowClientLimits {
  requestTimeout: number;
  http: { headersTimeout: number; connectionsCheckingInterval: number };
  connectionTimeout: number;
}

export const SLOW_CLIENT_LIMITS: Readonly<SlowClientLimits> = Object.freeze({
  requestTimeout: 30_000,
  http: Object.freeze({ headersTimeout: 30_000, connectionsCheckingInterval: 2_000 }),
  connectionTimeout: 60_000,
});
