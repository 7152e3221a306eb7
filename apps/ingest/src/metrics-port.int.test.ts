import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import {
  childOutput,
  ingestTestEnv,
  randomName,
  SPOOL_MAINS,
  sendRawHttp,
  spawnService,
  untilReady,
  withoutSpoolSettings,
} from '@spool/testkit';
import { freePort } from '@spool/testkit/ports';

/** METRICS_PORT: the ingest's /metrics on a port of its own, off the public one. */
describe('METRICS_PORT', () => {
  it("serves /metrics there only, counting the public port's requests, and closes it on shutdown", async () => {
    const metricsPort = await freePort();
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const ingest = await spawnService(
      SPOOL_MAINS.ingest,
      ingestTestEnv({ METRICS_PORT: String(metricsPort) }),
    );
    try {
      const stream = randomName('metrics');
      await untilReady(ingest, 10_000);
      const stored = await fetch(`${ingest.url}/v1/streams/${stream}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"event":"x"}',
      });
      expect(stored.status).toBe(202);

      const onPublicPort = await fetch(`${ingest.url}/metrics`);
      expect(onPublicPort.status).toBe(404);
      await onPublicPort.text();
      const apart = await fetch(metricsUrl);
      expect(apart.status).toBe(200);
      expect(await apart.text()).toContain(
        `spool_ingest_events_total{stream="${stream}",outcome="accepted"} 1`,
      );
      // The probes stay where they were.
      expect((await fetch(`${ingest.url}/healthz`)).status).toBe(200);
    } finally {
      await ingest.stop();
    }
    await expect(fetch(metricsUrl)).rejects.toThrow();
  });

  it('answers there, and on PORT without it, only requests addressed by an IP address or a name of METRICS_HOSTS (DNS rebinding)', async () => {
    const metricsPort = await freePort();
    const apart = await spawnService(
      SPOOL_MAINS.ingest,
      ingestTestEnv({ METRICS_PORT: String(metricsPort), METRICS_HOSTS: 'spool-ingest' }),
    );
    // Behind a proxy it trusts (a sidecar's loopback): X-Forwarded-Host is no way in.
    const onPort = await spawnService(SPOOL_MAINS.ingest, ingestTestEnv({ TRUST_PROXY: 'loopback' }));
    try {
      const statusFor = async (url: string, host: string, more = '') => {
        const request = `GET /metrics HTTP/1.1\r\nHost: ${host}\r\n${more}Connection: close\r\n\r\n`;
        const scrape = await sendRawHttp(url, request);
        await scrape.closed;
        return Number(/^HTTP\/1\.1 (\d{3})/.exec(scrape.answer())?.[1]);
      };
      const apartUrl = `http://127.0.0.1:${metricsPort}`;
      const port = new URL(onPort.url).port;
      expect({
        apartByAddress: await statusFor(apartUrl, `127.0.0.1:${metricsPort}`),
        apartByListedName: await statusFor(apartUrl, `spool-ingest:${metricsPort}`),
        apartByOtherName: await statusFor(apartUrl, `attacker.example:${metricsPort}`),
        onPortByAddress: await statusFor(onPort.url, `127.0.0.1:${port}`),
        onPortByName: await statusFor(onPort.url, `spool-ingest:${port}`),
        onPortForwardedHost: await statusFor(
          onPort.url,
          `attacker.example:${port}`,
          'X-Forwarded-Host: localhost\r\n',
        ),
      }).toEqual({
        apartByAddress: 200,
        apartByListedName: 200,
        apartByOtherName: 403,
        onPortByAddress: 200,
        onPortByName: 403,
        onPortForwardedHost: 403,
      });
    } finally {
      await apart.stop();
      await onPort.stop();
    }
  });

  it('lets the shutdown end, exit 0, with a scrape half sent there (a scraper gone without a FIN)', async () => {
    const metricsPort = await freePort();
    const ingest = await spawnService(SPOOL_MAINS.ingest, {
      ...ingestTestEnv({ METRICS_PORT: String(metricsPort) }),
      LOG_LEVEL: 'info',
    });
    const half = await sendRawHttp(`http://127.0.0.1:${metricsPort}`, 'GET /metrics HTTP/1.1\r\nHost: x\r\n');
    half.closed.catch(() => {});
    // Taken in by the server before the signal: else the close drops it as idle, and the test
    // would pass without testing anything.
    await half.readByServer();
    // Before: held until the 10 s grace ran out, "shutdown took too long", exit 1.
    expect(await ingest.stop('SIGTERM')).toBe(0);
    expect(ingest.output()).not.toContain('shutdown took too long');
  });

  it('stops the start, naming it, when its port is taken (exit 1, as for PORT: it may be free on a restart)', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, [SPOOL_MAINS.ingest], {
        env: {
          ...withoutSpoolSettings(),
          ...ingestTestEnv({
            HOST: '127.0.0.1',
            PORT: String(await freePort()),
            METRICS_PORT: String(port),
            LOG_LEVEL: 'warn',
          }),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const { closed, out } = childOutput(child);
      expect(await closed).toBe(1);
      expect(out()).toContain(`METRICS_PORT=${port}`);
    } finally {
      taken.close();
    }
  });
});
