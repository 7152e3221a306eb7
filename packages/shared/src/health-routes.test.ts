import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import Fastify from 'fastify';
import { pino } from 'pino';
import { Counter, Registry } from 'prom-client';
import { healthRoutes } from './health-routes.js';

/** An app with the health routes, whose readiness the test sets, and its log lines. */
async function appWithReadiness() {
  const readiness: { reason: string | undefined } = { reason: undefined };
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const app = Fastify({ loggerInstance: pino({ level: 'info' }, stream), disableRequestLogging: true });
  await app.register(healthRoutes, { notReadyReason: () => readiness.reason, registry: new Registry() });
  const readyz = async () => {
    const answer = await app.inject({ url: '/readyz' });
    return { status: answer.statusCode, body: answer.json() };
  };
  return { app, readiness, lines, readyz };
}

describe('/readyz', () => {
  it('answers 200 while ready, and 503 with the reason while not', async () => {
    const { app, readiness, readyz } = await appWithReadiness();
    expect(await readyz()).toEqual({ status: 200, body: { status: 'ready' } });
    readiness.reason = '2 of 3 Redis Cluster masters connected';
    expect(await readyz()).toEqual({
      status: 503,
      body: { status: 'not ready', reason: '2 of 3 Redis Cluster masters connected' },
    });
    await app.close();
  });

  it('logs each change of readiness once, however often it is asked', async () => {
    const { app, readiness, lines, readyz } = await appWithReadiness();
    await readyz();
    readiness.reason = 'the Redis connection is reconnecting';
    await readyz();
    await readyz();
    readiness.reason = 'shutting down';
    await readyz();
    readiness.reason = undefined;
    await readyz();
    await readyz();
    expect(lines.map(({ level, msg, reason, was }) => ({ level, msg, reason, was }))).toEqual([
      { level: 40, msg: 'not ready', reason: 'the Redis connection is reconnecting', was: undefined },
      { level: 40, msg: 'not ready', reason: 'shutting down', was: undefined },
      { level: 30, msg: 'ready again', reason: undefined, was: 'shutting down' },
    ]);
    await app.close();
  });
});

describe('/metrics', () => {
  /** An app serving a registry with one stream's counter, and its log lines. */
  async function appWithMetrics(metricsHosts?: readonly string[], trustProxy = false) {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const registry = new Registry();
    new Counter({ name: 'events_total', help: 'h', labelNames: ['stream'], registers: [registry] })
      .labels('payments')
      .inc();
    const app = Fastify({
      loggerInstance: pino({ level: 'info' }, stream),
      disableRequestLogging: true,
      trustProxy,
    });
    await app.register(healthRoutes, {
      notReadyReason: () => undefined,
      registry,
      ...(metricsHosts ? { metricsHosts } : {}),
    });
    const scrape = async (host: string) => {
      const answer = await app.inject({ url: '/metrics', headers: { host } });
      return answer.statusCode;
    };
    return { app, lines, scrape };
  }

  it('answers requests addressed by an IP address or localhost, and refuses a name (DNS rebinding) with 403, logged once', async () => {
    const { app, lines, scrape } = await appWithMetrics();
    for (const host of ['127.0.0.1:8080', '10.1.2.3:9464', '[::1]:8080', 'localhost:8080']) {
      expect({ host, status: await scrape(host) }).toEqual({ host, status: 200 });
    }
    const refused = await app.inject({ url: '/metrics', headers: { host: 'attacker.example:8080' } });
    expect(refused.statusCode).toBe(403);
    expect(refused.body).not.toContain('payments');
    expect(refused.json()).toEqual({
      error: 'forbidden',
      message: expect.stringContaining('list the names your Prometheus scrapes by in METRICS_HOSTS'),
    });
    expect(await scrape('ingest.internal')).toBe(403);
    // Once per 10 s, with the name to list if it is the scraper's.
    expect(lines.map(({ msg, host }) => ({ msg, host }))).toEqual([
      { msg: '/metrics refused a request by a name not in METRICS_HOSTS', host: 'attacker.example' },
    ]);
    await app.close();
  });

  it('answers gzipped to a scrape that takes gzip (Prometheus asks so on every scrape), the same text', async () => {
    const { app } = await appWithMetrics();
    const plain = await app.inject({ url: '/metrics', headers: { host: '127.0.0.1:8080' } });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toContain('events_total{stream="payments"} 1');
    for (const acceptEncoding of ['gzip', 'br, GZIP;q=0.8', '*']) {
      const zipped = await app.inject({
        url: '/metrics',
        headers: { host: '127.0.0.1:8080', 'accept-encoding': acceptEncoding },
      });
      expect({ acceptEncoding, encoding: zipped.headers['content-encoding'] }).toEqual({
        acceptEncoding,
        encoding: 'gzip',
      });
      expect(zipped.headers['content-type']).toBe(plain.headers['content-type']);
      expect(zipped.headers.vary).toBe('accept-encoding');
      expect(gunzipSync(zipped.rawPayload).toString()).toBe(plain.body);
    }
    const refused = await app.inject({
      url: '/metrics',
      headers: { host: '127.0.0.1:8080', 'accept-encoding': 'gzip;q=0, identity' },
    });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(refused.body).toBe(plain.body);
    await app.close();
  });

  it('judges the Host header itself behind a trusted proxy, never X-Forwarded-Host (a rebinding page may set it)', async () => {
    const { app } = await appWithMetrics(undefined, true);
    const forged = await app.inject({
      url: '/metrics',
      headers: { host: 'attacker.example:8080', 'x-forwarded-host': 'localhost' },
    });
    expect(forged.statusCode).toBe(403);
    const scrape = await app.inject({
      url: '/metrics',
      headers: { host: '10.1.2.3:8080', 'x-forwarded-host': 'attacker.example' },
    });
    expect(scrape.statusCode).toBe(200);
    await app.close();
  });

  it('answers the names of METRICS_HOSTS, and any name for "*"', async () => {
    const listed = await appWithMetrics(['spool-ingest', '*.svc.cluster.local']);
    expect(await listed.scrape('spool-ingest:8080')).toBe(200);
    expect(await listed.scrape('ingest.spool.svc.cluster.local:8080')).toBe(200);
    expect(await listed.scrape('attacker.example:8080')).toBe(403);
    await listed.app.close();
    const any = await appWithMetrics(['*']);
    expect(await any.scrape('attacker.example:8080')).toBe(200);
    await any.app.close();
  });
});
