import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { childOutput, waitFor } from '@spool/testkit';
import { freePort, isPortFree } from '@spool/testkit/ports';

/** `make dev`'s runner, as scripts/dev.sh starts it, on a data folder and ports of its own. */
const DEV = fileURLToPath(new URL('../../dist/dev/cli.js', import.meta.url));
const dataDirs: string[] = [];

afterAll(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

/** make dev's environment on a data folder and ports of its own, and those ports. */
async function devEnv(dataDir: string, env: Record<string, string> = {}) {
  const ports = {
    SPOOL_DEV_REDIS_PORT: String(await freePort()),
    SPOOL_DEV_S3_PORT: String(await freePort()),
    SPOOL_DEV_INGEST_PORT: String(await freePort()),
    SPOOL_DEV_FLUSHER_PORT: String(await freePort()),
  };
  // The test run's own Redis and S3 settings are not make dev's: it starts its own.
  const {
    REDIS_URL: _r,
    REDIS_CLUSTER_NODES: _c,
    S3_ENDPOINT: _s,
    S3_BUCKET: _b,
    WRITE_KEYS: _w,
    WRITE_KEYS_FILE: _wf,
    ...rest
  } = process.env;
  return { env: { ...rest, ...ports, SPOOL_DEV_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env }, ports };
}

async function startDev(dataDir: string, extraEnv: Record<string, string> = {}) {
  const { env, ports } = await devEnv(dataDir, extraEnv);
  const child = spawn(process.execPath, [DEV], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = childOutput(child);
  // What it printed, for a failure to say: a test timeout would say nothing.
  const said = (what: string) => `${what}; make dev printed:\n${output.all()}`;
  const running = () =>
    waitFor(
      async () => {
        if (output.err().includes('Spool is running')) return true;
        if (child.exitCode !== null) throw new Error(said(`make dev exited ${child.exitCode} before it ran`));
        return undefined;
      },
      90_000,
      'make dev',
    ).catch((error: Error) => {
      throw new Error(said(error.message));
    });
  /** Its exit code, or an error with what it printed if it has not exited within 45 s. */
  const exited = () =>
    Promise.race([
      output.closed,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(said('make dev did not exit within 45 s'))), 45_000).unref(),
      ),
    ]);
  return { child, ...output, ports, running, exited };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What a make dev that did not stop left running on `dataDir`, killed (its record names it). */
function killLeftovers(dataDir: string): void {
  // Its record goes once it has stopped all of it; then no pid of it is anyone's to kill.
  if (!existsSync(join(dataDir, 'make-dev.children'))) return;
  // What it started, and the runner itself where a test wrote its pid.
  const pids = ['make-dev.children', 'cli.pid']
    .map((name) => join(dataDir, name))
    .filter((file) => existsSync(file))
    .flatMap((file) => readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

/**
 * make dev run by `command` (make on a Makefile in `dataDir` that runs it, as `make dev` does) as
 * a terminal's own command, run by $SHELL -c: the shell leads the terminal's session, or make
 * does when the command execs it. script(1) is that terminal; killing it closes the window. The
 * runner's pid is written to `cli.pid`; nohup writes the output to `nohup.out`, both in `dataDir`.
 */
async function inTerminal(dataDir: string, command: string) {
  const { env, ports } = await devEnv(dataDir);
  writeFileSync(
    join(dataDir, 'Makefile'),
    `dev:\n\t@echo $$$$ > cli.pid; exec "${process.execPath}" "${DEV}"\n`,
  );
  const terminal = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: dataDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = childOutput(terminal);
  const printed = () => {
    const nohupOut = join(dataDir, 'nohup.out');
    return output.out() + (existsSync(nohupOut) ? readFileSync(nohupOut, 'utf8') : '');
  };
  // What it printed and whether it still runs, for a failure to say.
  const state = () =>
    `terminal ${terminal.exitCode === null ? 'open' : `exited ${terminal.exitCode}`}; printed:\n${printed()}`;
  const running = async () => {
    await waitFor(
      async () => {
        if (printed().includes('Spool is running')) return true;
        if (terminal.exitCode !== null) throw new Error(`make dev did not start: ${state()}`);
        return undefined;
      },
      90_000,
      'make dev',
    );
  };
  return { terminal, ports, running, state };
}

/** The process group of `pid` (a terminal's Ctrl-C signals its foreground group). */
function processGroupOf(pid: number): number {
  // /proc/<pid>/stat: "pid (comm) state ppid pgrp ...", the command name in parentheses.
  return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[2]);
}

const sendEvent = (ports: { SPOOL_DEV_INGEST_PORT: string }) =>
  fetch(`http://127.0.0.1:${ports.SPOOL_DEV_INGEST_PORT}/v1/streams/web/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"event":"signup"}',
    signal: AbortSignal.timeout(20_000), // a failure, not the test's timeout
  });

/** The pids make dev recorded as started (make-dev.children): read while it runs, to check after. */
const recordedChildren = (dataDir: string) =>
  readFileSync(join(dataDir, 'make-dev.children'), 'utf8').split(/\s+/).filter(Boolean).map(Number);

/**
 * Resolves once make dev's stop() ran (it removes the record of what it started once all of it
 * has stopped), and checks that it did: each of `children` (recordedChildren, read while it ran)
 * gone, and each of its ports free. Its record going and two ports free passed with the S3
 * stand-in and the flusher left running (a review's run).
 */
async function stopped(
  dataDir: string,
  ports: Record<string, string>,
  state: () => string,
  children: number[],
) {
  await waitFor(
    async () => (existsSync(join(dataDir, 'make-dev.children')) ? undefined : true),
    45_000,
    'make dev to stop',
  ).catch((error: Error) => {
    throw new Error(`${error.message}; ${state()}`);
  });
  expect(children.length).toBeGreaterThan(0);
  expect(children.filter(isRunning)).toEqual([]);
  for (const [name, port] of Object.entries(ports))
    expect({ [name]: await isPortFree(Number(port)) }).toEqual({ [name]: true });
}

const newDataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'spool-make-dev-'));
  dataDirs.push(dir);
  return dir;
};

describe('make dev', () => {
  it('prints a curl that its WRITE_KEYS take, never the key, and its own data folder, and stops everything when its terminal closes (SIGHUP)', async () => {
    const dataDir = newDataDir();
    const key = 'dev-write-key-0123';
    const dev = await startDev(dataDir, {
      WRITE_KEYS: `${key}:orders`,
      OUTPUT_FORMAT: 'orders:ndjson.zst,*:ndjson.gz',
      S3_PREFIX: 'dev/',
      REDIS_NAMESPACE: 'devns',
    });
    try {
      await dev.running();
      const banner = dev.err();
      expect(banner).toContain(`/v1/streams/orders/events -u '<the first key of WRITE_KEYS>:'`);
      expect(dev.all()).not.toContain(key);
      // Its own data folder, not the repository's .data/, wherever the banner names one.
      expect(banner).toContain(`in ${dataDir}/s3/spool/dev/stream=orders/dt=<day>/hour=<hour>/`);
      // How to read the stream's objects, in its own format (it said zcat for every format but a
      // lone one), and what make tail and verify need besides the ports.
      expect(banner).toContain('zstdcat it to read the events');
      expect(banner).toContain('with REDIS_NAMESPACE, S3_PREFIX set as for make dev, make status');
      expect(banner).toContain(`the next 'make dev' reuses ${dataDir}/.`);
      expect(banner).not.toContain('.data/');
      // The curl, with the key in place of its placeholder.
      const answer = await fetch(
        `http://127.0.0.1:${dev.ports.SPOOL_DEV_INGEST_PORT}/v1/streams/orders/events`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`,
          },
          body: '{"event":"signup","plan":"pro"}',
        },
      );
      expect(answer.status).toBe(202);

      dev.child.kill('SIGHUP');
      expect(await dev.exited()).toBe(0);
      expect(dev.err()).toContain(`the data stays in ${dataDir}/ for the next run`);
      // Redis ignores SIGHUP: only the runner could stop it.
      expect(await isPortFree(Number(dev.ports.SPOOL_DEV_REDIS_PORT))).toBe(true);
      expect(existsSync(join(dataDir, 'make-dev.children'))).toBe(false);
    } finally {
      killLeftovers(dataDir); // what a make dev that did not stop left running
      dev.child.kill('SIGKILL');
    }
  }, 150_000);

  it('says its keys come from WRITE_KEYS_FILE, and its curl needs one (it said the service was open)', async () => {
    const dataDir = newDataDir();
    const key = 'dev-file-key-0123';
    const keysFile = join(dataDir, 'write-keys');
    writeFileSync(keysFile, `${key}:orders\n`);
    const dev = await startDev(dataDir, { WRITE_KEYS_FILE: keysFile });
    try {
      await dev.running();
      const banner = dev.err();
      expect(banner).toContain('write keys required (WRITE_KEYS_FILE)');
      expect(banner).toContain(`/v1/streams/orders/events -u '<the first key of WRITE_KEYS_FILE>:'`);
      expect(banner).not.toContain('ALLOW_ANONYMOUS_WRITES=true');
      expect(dev.all()).not.toContain(key);
      const send = (headers: Record<string, string>) =>
        fetch(`http://127.0.0.1:${dev.ports.SPOOL_DEV_INGEST_PORT}/v1/streams/orders/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: '{"event":"signup"}',
        });
      expect((await send({})).status).toBe(401);
      expect(
        (await send({ authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` })).status,
      ).toBe(202);
      dev.child.kill('SIGTERM');
      expect(await dev.exited()).toBe(0);
    } finally {
      killLeftovers(dataDir);
      dev.child.kill('SIGKILL');
    }
  }, 150_000);

  // Who leads the terminal's session decides who the hang-up reaches: make alone, which passes
  // nothing on (a window or `ssh -t` that runs `make dev` itself); or a shell, whose death sends
  // it to the whole process group (as a prompt's shell sends it to its jobs).
  const LEADERS = [
    ['make leads the session, which passes no SIGHUP on', 'exec '],
    ['a shell leads the session, which hangs up the whole process group', ''],
  ] as const;
  /** The command a terminal runs: make itself (`exec`), or in a shell that waits for it. */
  const command = (exec: string, make: string) => `${exec}${make}${exec ? '' : '; echo "make exited $?"'}`;

  it.each(LEADERS)(
    'stops everything when its terminal closes while %s',
    async (_, exec) => {
      const dataDir = newDataDir();
      const dev = await inTerminal(dataDir, command(exec, 'make -s -f Makefile dev'));
      try {
        await dev.running();
        const children = recordedChildren(dataDir);
        expect((await sendEvent(dev.ports)).status).toBe(202);
        dev.terminal.kill('SIGKILL'); // the window closes
        await stopped(dataDir, dev.ports, dev.state, children);
      } finally {
        dev.terminal.kill('SIGKILL');
        killLeftovers(dataDir);
      }
    },
    150_000,
  );

  it.each(LEADERS)(
    'outlives its terminal under nohup, as asked, while %s, and stops on SIGTERM',
    async (_, exec) => {
      const dataDir = newDataDir();
      const dev = await inTerminal(dataDir, command(exec, 'nohup make -s -f Makefile dev'));
      try {
        await dev.running();
        const children = recordedChildren(dataDir);
        dev.terminal.kill('SIGKILL');
        // Past a few of its once-a-second looks for the terminal: everything still runs.
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        // The README's way to stop it: its pid is in make-dev.pid.
        const cli = Number(readFileSync(join(dataDir, 'make-dev.pid'), 'utf8'));
        expect(cli).toBe(Number(readFileSync(join(dataDir, 'cli.pid'), 'utf8')));
        expect([cli, ...children].filter((pid) => !isRunning(pid))).toEqual([]);
        expect((await sendEvent(dev.ports)).status).toBe(202);
        process.kill(cli, 'SIGTERM');
        await stopped(dataDir, dev.ports, dev.state, children);
      } finally {
        dev.terminal.kill('SIGKILL');
        killLeftovers(dataDir);
      }
    },
    150_000,
  );

  it('answers a request in flight when Ctrl-C stops it: the services stop before Redis does', async () => {
    // Ctrl-C reached the whole process group: Redis stopped as the ingest began to, and the
    // request got 503 (a review's run). The terminal's Ctrl-C: SIGINT to its foreground group.
    const dataDir = newDataDir();
    const dev = await inTerminal(dataDir, command('exec ', 'make -s -f Makefile dev'));
    try {
      await dev.running();
      const children = recordedChildren(dataDir);
      const ingest = `http://127.0.0.1:${dev.ports.SPOOL_DEV_INGEST_PORT}`;
      const body = '{"event":"sent-as-ctrl-c-came"}';
      const socket = connect(Number(dev.ports.SPOOL_DEV_INGEST_PORT), '127.0.0.1');
      let answer = '';
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString();
      });
      socket.write(
        `POST /v1/streams/web/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
      );
      // In flight once the ingest holds room for its body.
      await waitFor(
        async () => {
          const metrics = await (await fetch(`${ingest}/metrics`)).text();
          return /^spool_ingest_inflight_body_bytes [1-9]/m.test(metrics) ? true : undefined;
        },
        20_000,
        'the request to be in flight',
      );
      process.kill(-processGroupOf(Number(readFileSync(join(dataDir, 'cli.pid'), 'utf8'))), 'SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      socket.write(body.slice(5));
      await waitFor(async () => (answer.includes('\r\n\r\n') ? true : undefined), 20_000, 'its answer');
      socket.destroy();
      expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 202 Accepted');
      await stopped(dataDir, dev.ports, dev.state, children);
    } finally {
      dev.terminal.kill('SIGKILL');
      killLeftovers(dataDir);
    }
  }, 150_000);

  it('stops what it started when Ctrl-C comes while it starts', async () => {
    // Its children hear no terminal (sessions of their own): a Ctrl-C before its handlers were
    // set ended make dev alone, and left Redis and the S3 stand-in running, unrecorded (a review's run).
    const dataDir = newDataDir();
    const dev = await inTerminal(dataDir, command('exec ', 'make -s -f Makefile dev'));
    try {
      await waitFor(
        async () => ((await isPortFree(Number(dev.ports.SPOOL_DEV_REDIS_PORT))) ? undefined : true),
        60_000,
        'its Redis to listen',
      );
      process.kill(-processGroupOf(Number(readFileSync(join(dataDir, 'cli.pid'), 'utf8'))), 'SIGINT');
      await waitFor(
        async () => (dev.terminal.exitCode === null ? undefined : true),
        60_000,
        'make dev to exit',
      );
      expect(await isPortFree(Number(dev.ports.SPOOL_DEV_REDIS_PORT))).toBe(true);
      expect(await isPortFree(Number(dev.ports.SPOOL_DEV_S3_PORT))).toBe(true);
      expect(existsSync(join(dataDir, 'make-dev.children'))).toBe(false);
    } finally {
      dev.terminal.kill('SIGKILL');
      killLeftovers(dataDir);
    }
  }, 150_000);

  it("refuses to start while a killed make dev's processes still run on its data, naming them", async () => {
    const dataDir = newDataDir();
    const first = await startDev(dataDir);
    let left: number[] = [];
    let second: Awaited<ReturnType<typeof startDev>> | undefined;
    try {
      await first.running();
      left = readFileSync(join(dataDir, 'make-dev.children'), 'utf8').split('\n').map(Number);
      expect(left.length).toBe(4); // Redis, the S3 stand-in, the ingest, the flusher
      // 'exit', not 'close': what it left running holds its output pipes open.
      const exited = once(first.child, 'exit');
      first.child.kill('SIGKILL');
      await exited;

      // On other ports, as the port-in-use hint suggests: a second Redis on the same AOF.
      second = await startDev(dataDir);
      expect(await second.exited()).toBe(1);
      expect(second.err()).toContain(
        `a previous make dev's processes still run on ${dataDir} (pids ${left.join(' ')})`,
      );
      expect(await isPortFree(Number(second.ports.SPOOL_DEV_REDIS_PORT))).toBe(true);
    } finally {
      // A second that did not refuse ran on: it and what it started, or Jest waits on them.
      killLeftovers(dataDir);
      second?.child.kill('SIGKILL');
      first.child.kill('SIGKILL');
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
  }, 150_000);
});
