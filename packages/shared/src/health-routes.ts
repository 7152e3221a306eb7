import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { acceptsGzip } from './accept-gzip.js';
import { addressedHost, namedHostMatcher, openHost } from './open-host.js';
import { repeatedLog } from './repeated-log.js';

export interface HealthRouteOptions {
  /**
   * Why the process cannot do its work now (Redis unreachable, shutting down), or undefined
   * while it can. Said to anyone who asks `/readyz`: no addresses, no secrets.
   */
  notReadyReason(): string | undefined | Promise<string | undefined>;
  /** Served at `/metrics`; none there when the metrics have a server of their own (METRICS_PORT). */
  registry?: Registry;
  /** Each route's config (the ingest's `{ cors: false }`: its CORS is for the event routes only). */
  routeConfig?: Record<string, unknown>;
  /** METRICS_HOSTS: names `/metrics` answers besides IP addresses and localhost. */
  metricsHosts?: readonly string[];
}

/**
 * `/healthz` (alive), `/readyz` (ready for traffic, or 503 and why not) and, given a registry,
 * `/metrics` (Prometheus text). A change of readiness is logged once (warn when it is lost, info when it
 * returns), so a pod that a load balancer left out can say why afterwards.
 */
export async function healthRoutes(app: FastifyInstance, options: HealthRouteOptions): Promise<void> {
  let lastReason: string | undefined;
  const config = options.routeConfig ?? {};
  app.get('/healthz', { config }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config }, async (_request, reply) => {
    const reason = await options.notReadyReason();
    if (reason !== lastReason) {
      if (reason) app.log.warn({ reason }, 'not ready');
      else app.log.info({ was: lastReason }, 'ready again');
      lastReason = reason;
    }
    return reason === undefined
      ? reply.code(200).send({ status: 'ready' })
      : reply.code(503).send({ status: 'not ready', reason });
  });
  if (options.registry) {
    await app.register(metricsRoute, {
      registry: options.registry,
      routeConfig: config,
      metricsHosts: options.metricsHosts ?? [],
    });
  }
}

/**
 * `/metrics`: the registry's Prometheus text, for requests addressed by an IP address or
 * `localhost` (what Prometheus's pod, annotation and DNS A discovery send), or by a name of
 * METRICS_HOSTS. It has no key, and it names every stream with its traffic: a page that points
 * a name of its own at a service inside the network (DNS rebinding) read it as its own origin
 * (open-host.ts), CORS or not. Refusals are logged once per 10 s, so a scrape by a name not
 * listed says why.
 */
export async function metricsRoute(
  app: FastifyInstance,
  {
    registry,
    routeConfig = {},
    metricsHosts = [],
  }: { registry: Registry; routeConfig?: Record<string, unknown>; metricsHosts?: readonly string[] },
): Promise<void> {
  const listed = namedHostMatcher(metricsHosts);
  const refused = repeatedLog(app.log, '/metrics refused a request by a name not in METRICS_HOSTS');
  app.get('/metrics', { config: routeConfig }, async (request, reply) => {
    const host = addressedHost(request.headers.host);
    if (!openHost(host) && !listed(host)) {
      // The name to list, if it is the scraper's: the requester's own header, cut short.
      refused(undefined, { host: host.slice(0, 255), ip: request.ip });
      return reply.code(403).send({
        error: 'forbidden',
        message:
          '/metrics answers requests addressed to an IP address or localhost; list the names your Prometheus scrapes by in METRICS_HOSTS',
      });
    }
    const text = await registry.metrics();
    reply.type(registry.contentType).header('vary', 'accept-encoding');
    // Prometheus asks for gzip on every scrape: a thousand streams' series are some 520 KB of text,
    // 32 KB gzipped, compressed on libuv's threads rather than the event loop.
    if (!acceptsGzip(request.headers['accept-encoding'])) return text;
    return reply.header('content-encoding', 'gzip').send(await gzipped(text));
  });
}

const gzipped = promisify(gzip);
