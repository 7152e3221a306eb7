import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';

const AUDIT = fileURLToPath(new URL('./audit.sh', import.meta.url));

/** A registry whose audit endpoint answers `status` with `advisories` (npm's bulk format). */
async function registry(status: number, advisories: object): Promise<Server> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const isAudit = request.url?.includes('/security/advisories/bulk');
      response.writeHead(isAudit ? status : 404, { 'content-type': 'application/json' });
      response.end(isAudit ? JSON.stringify(advisories) : '{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** Runs scripts/audit.sh (pnpm audit over this repository's lockfile) against `server`. */
function audit(server: Server): Promise<{ code: number; output: string }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve) => {
    execFile(
      'bash',
      [AUDIT],
      { env: { ...process.env, SPOOL_AUDIT_REGISTRY: `http://127.0.0.1:${port}/` } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, output: stdout + stderr }),
    );
  });
}

const advisory = (severity: string) => ({
  fastify: [
    {
      id: 1_099_999,
      url: 'https://example.invalid/advisory',
      title: 'Injected advisory for this test',
      severity,
      vulnerable_versions: '<99.0.0',
      cwe: ['CWE-20'],
      cvss: { score: 8.1, vectorString: null },
    },
  ],
});

let server: Server | undefined;
afterEach(() => {
  server?.close();
});

describe('the audit phase of make test (scripts/audit.sh)', () => {
  it('fails, printing the advisory, on a known vulnerability of high severity', async () => {
    server = await registry(200, advisory('high'));
    const { code, output } = await audit(server);
    expect(code).toBe(1);
    expect(output).toContain('Injected advisory for this test');
  });

  it('passes on advisories below high, and on none', async () => {
    server = await registry(200, advisory('moderate'));
    expect((await audit(server)).code).toBe(0);
    server.close();
    server = await registry(200, {});
    const { code, output } = await audit(server);
    expect(code).toBe(0);
    expect(output).toContain('no known vulnerability of high severity or above');
  });

  it('says NOT RUN, exiting 3 (not run, which make test names, rather than passed), where the audit endpoint answers 405', async () => {
    server = await registry(405, {});
    const { code, output } = await audit(server);
    expect(code).toBe(3);
    expect(output).toContain('NOT RUN: pnpm audit');
    expect(output).toContain('responded with 405');
  });
});
