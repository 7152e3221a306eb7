import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { childOutput } from '../child-output.js';
import { LocalStack } from './local-stack.js';
import { s3StandinMain } from './s3-standin.js';

/** The local stack that make dev, the loadtest and the chaos runs start. */
describe('the local stack', () => {
  it('refuses a service its fixed port when another server holds it, rather than take that server for it', async () => {
    // Another server that answers /readyz as a ready Spool would (make dev's 8080 taken by a compose stack).
    const holder = createServer((_request, response) => response.end('{"status":"ready"}'));
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    const stack = await LocalStack.start({ s3: false });
    try {
      await expect(stack.addIngest({}, { port })).rejects.toThrow(
        `ingest-1: port ${port} is in use by another process`,
      );
      expect(stack.ingests).toEqual([]);
    } finally {
      await stack.stop();
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it("says Redis's port is in use when a server that never answers holds it, rather than wait on it for good", async () => {
    // An HTTP server takes the connection and waits for a request line that PING never is.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      await expect(LocalStack.start({ s3: false, redis: { port } })).rejects.toThrow(
        'redis exited at start: is its port in use?',
      );
    } finally {
      holder.closeAllConnections();
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it("fails its start when the S3 stand-in's port is held by another server, rather than take that server for it", async () => {
    // Any server answered the check (a developer's python -m http.server on make dev's port).
    const holder = createServer((_request, response) => response.end('<html>a directory listing</html>'));
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    const start = LocalStack.start({ s3: { port } });
    try {
      await expect(start).rejects.toThrow('s3 exited at start: is its port in use?');
    } finally {
      // Started against the other server (the defect): stopped, or its Redis keeps the run alive.
      await start.then(
        (stack) => stack.stop(),
        () => {},
      );
      holder.closeAllConnections();
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it("says in one line that the S3 stand-in's port is in use, not with a stack trace", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    const dir = mkdtempSync(join(tmpdir(), 'spool-s3-port-'));
    try {
      const standin = spawn(process.execPath, [s3StandinMain(), 'server', dir], {
        env: { ...process.env, S3_ADDRESS: '127.0.0.1', S3_PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output = childOutput(standin);
      expect(await output.closed).toBe(1);
      expect(output.err()).toBe(`s3: 127.0.0.1:${port} is in use by another process\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it.each([
    // make dev: any setting in the environment overrides its defaults.
    ['with inheritSettings (WRITE_KEYS=… make dev), requires keys', true, [401, 202]],
    // A test's: the settings it gives, whatever the shell that runs the tests exported.
    ['without it (a test), stays open', false, [202, 202]],
  ])(
    "starts an ingest, WRITE_KEYS in the tool's own environment: %s",
    async (_, inheritSettings, answers) => {
      const stack = await LocalStack.start({ s3: false, inheritSettings });
      const before = process.env.WRITE_KEYS;
      process.env.WRITE_KEYS = 'local-stack-test-key:web';
      try {
        const ingest = await stack.addIngest();
        const send = (headers: Record<string, string>) =>
          fetch(`${ingest.url}/v1/streams/web/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body: '{"event":"signup"}',
          });
        expect([
          (await send({})).status,
          (await send({ authorization: 'Bearer local-stack-test-key' })).status,
        ]).toEqual(answers);
      } finally {
        if (before === undefined) delete process.env.WRITE_KEYS;
        else process.env.WRITE_KEYS = before;
        await stack.stop();
      }
    },
  );
});
