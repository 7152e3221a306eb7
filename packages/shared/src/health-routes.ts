import { type FastifyInstance, type FastifyRequest, LogController } from 'fastify';
import type { Registry } from 'prom-client';

export interface HealthRouteOptions {
  /** True while the process can do its work (Redis reachable, not shutting down). */
  isReady(): boolean;
  registry: Registry;
}

/** `/healthz` (alive), `/readyz` (ready for traffic) and `/metrics` (Prometheus text). */
export async function healthRoutes(app: FastifyInstance, options: HealthRouteOptions): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = options.isReady();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });
  app.get('/metrics', async (_request, reply) => {
    return reply.type(options.registry.contentType).send(await options.registry.metrics());
  });
}

const PROBES = new Set(['/healthz', '/readyz', '/metrics', '/status.json']);

/**
 * Request logging for everything but probes, scrapes and the status page's polling, which would
 * drown the log; and for paths under `quietPrefixes` (a board's polled API, say).
 */
export function quietProbes(quietPrefixes: readonly string[] = []): LogController {
  return new LogController({
    // Runs for every request: no split.
    disableRequestLogging: (request: FastifyRequest) => {
      const { url } = request;
      const query = url.indexOf('?');
      const path = query === -1 ? url : url.slice(0, query);
      return PROBES.has(path) || quietPrefixes.some((prefix) => path.startsWith(prefix));
    },
  });
}
