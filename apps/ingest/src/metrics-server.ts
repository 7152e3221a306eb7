import {
  closeConnectionsOnClose,
  metricsRoute,
  notFoundWithoutSecrets,
  refuseAmbiguousRequests,
  requestLogs,
  SLOW_CLIENT_LIMITS,
} from '@spool/shared';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/**
 * `/metrics` on a port of its own (METRICS_PORT), so that the ingest's public port (the one its
 * load balancer or Kubernetes Service exposes) does not tell the internet its streams' names and
 * traffic. It listens when `app` is ready (so a port that cannot be had stops the start, as
 * PORT's does) and closes with it.
 */
export async function serveMetricsApart(
  app: FastifyInstance,
  registry: Registry,
  { host, port, metricsHosts }: { host: string; port: number; metricsHosts: readonly string[] },
): Promise<void> {
  const server = Fastify({
    loggerInstance: app.log as FastifyBaseLogger,
    logController: requestLogs(),
    ...SLOW_CLIENT_LIMITS,
  });
  // As the public port's: a scrape half sent (a scraper gone without a FIN) must not hold the close.
  closeConnectionsOnClose(server);
  server.addHook('onRequest', refuseAmbiguousRequests);
  notFoundWithoutSecrets(server);
  await server.register(metricsRoute, { registry, metricsHosts });
  app.addHook('onReady', async () => {
    try {
      await server.listen({ host, port });
    } catch (error) {
      // listenOrExit names PORT; this says it was METRICS_PORT, and keeps the code it exits by.
      const { code, message } = error as NodeJS.ErrnoException;
      throw Object.assign(new Error(`METRICS_PORT=${port}: ${message}`), { code });
    }
  });
  app.addHook('onClose', async () => {
    await server.close();
  });
}
