import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { isPortFree } from '@spool/testkit/ports';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** The loadtest's exit code and its stderr (its report). */
function loadtest(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 120_000 }, (error, _stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? -1) : 0, stderr }),
    );
  });
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('spool loadtest', () => {
  it('runs load against a stack of its own, reads every object back and reports zero loss and zero duplicates', async () => {
    const out = await mkdtemp(join(tmpdir(), 'loadtest-out-'));
    const { stderr } = await promisify(execFile)(
      process.execPath,
      [
        CLI,
        '--requests',
        '300',
        '--concurrency',
        '10',
        '--events-per-request',
        '20',
        '--streams',
        '2',
        '--out',
        out,
      ],
      { timeout: 120_000 },
    );
    const file = /summary written to (\S+\.json)/.exec(stderr)?.[1] as string;
    const summary = JSON.parse(readFileSync(file, 'utf8'));
    expect(summary).toMatchObject({ requests: 300, accepted: 300, errors: 0 });
    expect(summary.verification).toMatchObject({
      landedEvents: 6_000,
      acceptedLanded: 6_000,
      missing: 0,
      duplicated: 0,
      refusedFound: 0,
      foreign: 0,
    });
    expect(stderr).toContain('OK: summary written');
  });

  it('fails a run that stored nothing: no ingest there', async () => {
    const port = await closedPort();
    const { code, stderr } = await loadtest([
      '--url',
      `http://127.0.0.1:${port}`,
      '--no-verify',
      '--requests',
      '3',
      '--concurrency',
      '1',
      '--out',
      await mkdtemp(join(tmpdir(), 'loadtest-out-')),
    ]);
    expect(stderr).toContain('no event was accepted');
    expect(stderr).toContain('FAILED');
    expect(code).toBe(1);
  });

  it('stops and fails at once when the ingest refuses the load itself (over its limits)', async () => {
    const { code, stderr } = await loadtest([
      '--target-buffer',
      '1MB',
      '--events-per-request',
      '3000',
      '--concurrency',
      '2',
      '--out',
      await mkdtemp(join(tmpdir(), 'loadtest-out-')),
    ]);
    expect(stderr).toMatch(/refused for good; the first: 4\d\d .*SPOOL_/);
    expect(stderr).toContain('FAILED');
    expect(code).toBe(1);
  });

  it('stops its own stack when it is sent SIGTERM mid-run, leaving nothing listening', async () => {
    const child = spawn(process.execPath, [CLI, '--duration', '5m', '--concurrency', '2', '--no-verify'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    // Rejected if it exits first, or prints no progress in 60 s: the finally below then kills it.
    const started = new Promise<string[]>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the run exited ${code} before it ran:\n${stderr}`)));
      setTimeout(() => reject(new Error(`no progress line in 60 s:\n${stderr}`)), 60_000).unref();
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        const stack = /own stack: ingest (\S+), redis (\S+), s3 (\S+), flusher (\S+) \(/.exec(stderr);
        if (stack && /requests? ?\/s|req\/s/.test(stderr)) resolve(stack.slice(1));
      });
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const addresses = await started;
      child.kill('SIGTERM');
      expect(await exited).toBe(143);
      // Every process of its stack gone, Redis and the S3 stand-in too: the ingest's /healthz alone
      // passed with the rest left running (a review's run).
      for (const address of addresses) {
        const { port } = new URL(address);
        expect({ address, free: await isPortFree(Number(port)) }).toEqual({ address, free: true });
      }
    } finally {
      // Never started, or never stopped: a five-minute run (and its stack) would outlive the test.
      child.kill('SIGKILL');
    }
  }, 120_000);
});
