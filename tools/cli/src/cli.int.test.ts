import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from '@jest/globals';
import { appendToBuffer, defineSpoolCommands, streamKeys, streamRegistryKey } from '@spool/shared';
import {
  childOutput,
  createTestRedis,
  flusherTestEnv,
  randomName,
  SPOOL_MAINS,
  spawnService,
  testServices,
  waitFor,
  withoutSpoolSettings,
} from '@spool/testkit';

/** The built `spool` command, run as a user runs it: its output into a pipe. */
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const redis = createTestRedis();
defineSpoolCommands(redis);
const REDIS_URL = testServices().redisUrl;
/** The escape that starts a colour or a cursor move. */
const ANSI = '\u001b[';

afterAll(async () => {
  await redis.quit();
});

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...withoutSpoolSettings(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { closed: exited, out, err } = childOutput(child);
  return { child, exited, out, err };
}

/**
 * `spool status --url <url>` on a terminal of its own (script(1)): the live view runs only on
 * one. script(1) with its input no terminal leaves its pty at 0×0, as any pty nobody sized.
 */
function statusOnATerminal(url: string, env: Record<string, string> = {}) {
  const command = `exec ${process.execPath} ${CLI} status --url ${url}`;
  const terminal = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { ...withoutSpoolSettings(), ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return { terminal, ...childOutput(terminal) };
}

async function append(stream: string, namespace: string, lines: string[]): Promise<void> {
  await appendToBuffer(redis, streamKeys(stream, namespace), {
    chunk: lines.map((line) => `${line}\n`).join(''),
    eventCount: lines.length,
    maxBytes: 1e9,
    dedupeWindowMs: 0,
    clientIds: { ids: [], lines: [] },
  });
}

describe('spool tail', () => {
  it('prints new events as NDJSON into a pipe, without colours, and stops on Ctrl-C', async () => {
    const namespace = randomName('ns');
    const stream = randomName('web');
    const tail = run(['tail', stream, '--redis', REDIS_URL, '--namespace', namespace]);
    const lines = Array.from({ length: 3 }, (_, n) =>
      JSON.stringify({ event: 'page', n, pad: 'x'.repeat(300) }),
    );
    // Appends until the tail (which starts at the end) has shown them: it may start after the first.
    await waitFor(
      async () => {
        await append(stream, namespace, lines);
        return tail.out().includes(lines[2] as string) ? true : undefined;
      },
      15_000,
      'the tail to print',
    );
    tail.child.kill('SIGINT');
    expect(await tail.exited).toBe(0);
    expect(tail.out()).not.toContain(ANSI);
    // Whole lines into a pipe, however long.
    for (const line of tail.out().trimEnd().split('\n')) expect(lines).toContain(line);
  });

  it('says once that it waits for a stream its namespace does not have, naming streams it has, and nothing of one it has', async () => {
    const namespace = randomName('ns');
    await redis.zadd(streamRegistryKey(namespace), Date.now(), 'web');
    // A stream it has, with nothing buffered now (just flushed), tailed first: by the time the
    // other tail has said its line, this one has looked too, and found the stream.
    const known = run(['tail', 'web', '--redis', REDIS_URL, '--namespace', namespace]);
    const tail = run(['tail', 'wbe', '--redis', REDIS_URL, '--namespace', namespace]);
    try {
      await waitFor(async () => (tail.err().includes('waiting') ? true : undefined), 15_000, 'the tail');
      // The tail reads from the buffer's length when it starts: appended until it prints one.
      await waitFor(
        async () => {
          await append('web', namespace, ['{"event":"registered-and-empty"}']);
          return known.out().includes('registered-and-empty') ? true : undefined;
        },
        15_000,
        'the tail of a registered, empty stream',
      );
    } finally {
      tail.child.kill('SIGINT');
      known.child.kill('SIGINT');
    }
    expect(await tail.exited).toBe(0);
    expect(tail.err().trim()).toBe(
      `spool tail: namespace ${namespace} has no stream "wbe" yet (it has web); waiting for its first event`,
    );
    expect(await known.exited).toBe(0);
    expect(known.err()).toBe('');
  });

  it('reads an empty REDIS_NAMESPACE as unset (spool), as the services do', async () => {
    const stream = randomName('web');
    await append(stream, 'spool', ['{"event":"page","namespace":"spool"}']);
    const tail = run(['tail', stream, '--redis', REDIS_URL, '--from-start'], { REDIS_NAMESPACE: '' });
    try {
      await waitFor(
        async () => (tail.out().includes('"namespace":"spool"') ? true : undefined),
        15_000,
        'the tail',
      );
    } finally {
      tail.child.kill('SIGINT');
    }
    expect(await tail.exited).toBe(0);
  });

  it('refuses a namespace the services refuse, naming where it came from, before reaching Redis', async () => {
    const calls: [string[], Record<string, string>, string][] = [
      [['tail', 'web', '--namespace', 'Bad NS'], {}, '--namespace: expected 1 to 32 of a-z'],
      [['tail', 'web', '--namespace', ''], {}, '--namespace: expected 1 to 32 of a-z'],
      [['tail', 'web'], { REDIS_NAMESPACE: 'Bad' }, 'REDIS_NAMESPACE: expected 1 to 32 of a-z'],
      [['status', '--once'], { REDIS_NAMESPACE: 'x'.repeat(33) }, 'REDIS_NAMESPACE: expected 1 to 32 of a-z'],
    ];
    for (const [args, env, message] of calls) {
      // Redis on a port nothing listens on: a refusal that connected first would say so instead.
      const cli = run([...args, '--redis', 'redis://127.0.0.1:1'], env);
      expect({ args, code: await cli.exited }).toEqual({ args, code: 64 });
      expect(cli.err()).toContain(message);
    }
  });

  it('tails a shard of a sharded stream (web#1), as its usage says', async () => {
    const namespace = randomName('ns');
    const shard = `${randomName('web')}#1`;
    await append(shard, namespace, ['{"event":"page","shard":1}']);
    const tail = run(['tail', shard, '--redis', REDIS_URL, '--namespace', namespace, '--from-start']);
    await waitFor(async () => (tail.out().includes('"shard":1') ? true : undefined), 15_000, 'the tail');
    tail.child.kill('SIGINT');
    expect(await tail.exited).toBe(0);
  });

  it("writes DEL and the C1 controls (U+009B, a terminal's CSI) as JSON escapes: the same event, nothing a terminal acts on", async () => {
    const namespace = randomName('ns');
    const stream = randomName('web');
    const tail = run(['tail', stream, '--redis', REDIS_URL, '--namespace', namespace]);
    const event = { event: 'page', title: 'a\u009b31mred\u007f\u0085z', plain: 'é' };
    const line = JSON.stringify(event);
    await waitFor(
      async () => {
        await append(stream, namespace, [line]);
        return tail.out().includes('"plain"') ? true : undefined;
      },
      15_000,
      'the tail to print',
    );
    tail.child.kill('SIGINT');
    expect(await tail.exited).toBe(0);
    const [shown] = tail.out().trimEnd().split('\n') as [string];
    expect(shown).not.toMatch(/[\u007f-\u009f]/);
    expect(shown).toContain('a\\u009b31mred\\u007f\\u0085z');
    expect(JSON.parse(shown)).toEqual(event);
  });

  it('stops when the pipe it writes to closes (spool tail … | head), never waiting on it', async () => {
    const namespace = randomName('ns');
    const stream = randomName('web');
    // More than a pipe holds: the tail is writing when its reader goes.
    await append(
      stream,
      namespace,
      Array.from({ length: 50_000 }, (_, n) => JSON.stringify({ n, pad: 'x'.repeat(200) })),
    );
    const tail = run(['tail', stream, '--redis', REDIS_URL, '--namespace', namespace, '--from-start']);
    await once(tail.child.stdout, 'data');
    tail.child.stdout.destroy();
    expect(await tail.exited).toBe(0);
  });

  it('says in one line that it cannot reach Redis, and exits 1', async () => {
    const tail = run(['tail', 'web', '--redis', 'redis://127.0.0.1:1']);
    expect(await tail.exited).toBe(1);
    expect(tail.err().trim()).toBe(
      'spool tail: cannot reach Redis (is it running? --redis, --cluster or REDIS_URL say where)',
    );
    // A cluster no node of which answers: it waited in silence for good, Ctrl-C unheard.
    const cluster = run(['tail', 'web', '--cluster', '127.0.0.1:1']);
    expect(await cluster.exited).toBe(1);
    expect(cluster.err().trim()).toMatch(
      /^spool tail: .*Redis Cluster.*--cluster or REDIS_CLUSTER_NODES say where\)$/,
    );
  });

  it("refuses, with its usage and naming the option, another command's option, two sources at once, and values it would misread", async () => {
    // Each was taken in silence: ignored, one source picked over the other, "0x10" read as 16.
    const calls: [string[], string][] = [
      [['tail', 'web', '--once'], '--once: not an option of spool tail'],
      [
        ['verify', '--stream', 'web', '--day', '2026-12-01', '--from', '2026-01-01'],
        '--from: not an option of spool verify',
      ],
      [
        [
          'replay',
          '--stream',
          'web',
          '--from',
          '2026-12-01',
          '--to',
          '2026-12-01',
          '--to-prefix',
          'x/',
          '--deep',
        ],
        '--deep: not an option of spool replay',
      ],
      [
        ['status', '--url', 'http://127.0.0.1:1', '--redis', 'redis://127.0.0.1:1'],
        '--url and --redis: give one of them',
      ],
      [
        ['status', '--redis', 'redis://127.0.0.1:1', '--cluster', '127.0.0.1:1'],
        '--redis and --cluster: give one of them',
      ],
      [['status', '--cluster', 'foo'], '--cluster: entry 1 is not host:port'],
      [['status', '--url', 'not a url'], "--url: expected the flusher's http:// or https:// URL"],
      [
        ['status', '--redis', 'redis://127.0.0.1:1', '--limit', '0x10'],
        '--limit: expected a whole number from 1 to 1000',
      ],
    ];
    for (const [args, message] of calls) {
      const cli = run(args);
      expect({ args, code: await cli.exited }).toEqual({ args, code: 64 });
      expect(cli.err()).toContain(`spool: ${message}`);
      expect(cli.err()).toContain('spool tail STREAM');
    }
    const fromEnvironment = run(['tail', 'web'], { REDIS_CLUSTER_NODES: 'foo' });
    expect(await fromEnvironment.exited).toBe(64);
    expect(fromEnvironment.err()).toContain('spool: REDIS_CLUSTER_NODES: entry 1 is not host:port');
  });

  it("answers --help and a refused command line before loading any command's modules (Redis, S3, BullMQ)", async () => {
    // Records every module the command resolves, in a file, as it exits.
    const recorder = `data:text/javascript,${encodeURIComponent(`
      import { writeFileSync } from 'node:fs';
      import { registerHooks } from 'node:module';
      const loaded = [];
      registerHooks({ resolve(specifier, context, next) { const found = next(specifier, context); loaded.push(found.url); return found; } });
      process.on('exit', () => writeFileSync(process.env.LOADED_FILE, JSON.stringify(loaded)));
    `)}`;
    const dir = mkdtempSync(join(tmpdir(), 'spool-cli-'));
    const modulesLoadedBy = async (args: string[]) => {
      const file = join(dir, 'loaded.json');
      const child = spawn(process.execPath, ['--import', recorder, CLI, ...args], {
        env: { ...withoutSpoolSettings(), LOADED_FILE: file },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const { closed } = childOutput(child);
      const code = await closed;
      return { code, loaded: JSON.parse(readFileSync(file, 'utf8')) as string[] };
    };
    const heavy = (urls: string[]) =>
      urls.filter((url) => /\/(ioredis|bullmq|@aws-sdk|pino|zod)\/|\/shared\/dist\/index\.js$/.test(url));
    for (const args of [['--help'], [], ['tail'], ['verify', 'web'], ['tail', 'web', '--once'], ['nope']]) {
      const { code, loaded } = await modulesLoadedBy(args);
      expect({ args, code: code === 0 || code === 64, heavy: heavy(loaded) }).toEqual({
        args,
        code: true,
        heavy: [],
      });
    }
    // The recorder sees them where a command runs (a Redis that refuses at once).
    const tail = await modulesLoadedBy(['tail', 'web', '--redis', 'redis://127.0.0.1:1']);
    expect(tail.code).toBe(1);
    expect(heavy(tail.loaded)).toEqual(expect.arrayContaining([expect.stringContaining('/ioredis/')]));
    rmSync(dir, { recursive: true });
  });

  it('refuses a call without a stream, with two, or with a name no stream has (never waiting on it), with its usage', async () => {
    // `make tail` without STREAM passes an empty name.
    const calls = [
      ['tail'],
      ['tail', ''],
      ['tail', 'Web'],
      ['tail', 'web x'],
      ['tail', 'a', 'b'],
      ['tails', 'a'],
      ['tail', 'web#64'],
      // An option it does not know, or one without its value: the usage, not a stack trace.
      ['tail', 'web', '--follow'],
      ['tail', 'web', '--redis'],
    ];
    for (const args of [...calls, ['status', '--limit', '0']]) {
      const cli = run(args);
      expect({ args, code: await cli.exited }).toEqual({ args, code: 64 });
      expect(cli.err()).toContain('spool tail STREAM');
    }
    const upper = run(['tail', 'Web']);
    expect(await upper.exited).toBe(64);
    expect(upper.err()).toContain(
      '1 to 64 of a-z, 0-9, "_" and "-", starting with a letter or digit), or a shard as web#1; got "Web"',
    );
  });
});

describe('spool status', () => {
  it('prints one plain snapshot into a pipe, straight from Redis', async () => {
    const namespace = randomName('ns');
    await redis.zadd(streamRegistryKey(namespace), Date.now(), 'status-cli-web');
    await append('status-cli-web', namespace, ['{"n":1}', '{"n":2}']);
    const cli = run(['status', '--redis', REDIS_URL, '--namespace', namespace]);
    expect(await cli.exited).toBe(0);
    expect(cli.out()).toMatch(/^status-cli-web +ok +16 B +/m);
    expect(cli.out()).toContain('1 streams');
    expect(cli.out()).not.toContain(ANSI);
  });

  it("reads REDIS_URL_FILE as the services do (a pod's mounted secret), says what is wrong with it, and leaves it and ADMIN_KEYS_FILE unread for --redis", async () => {
    const namespace = randomName('ns');
    const stream = randomName('web');
    const dir = mkdtempSync(join(tmpdir(), 'spool-cli-'));
    try {
      writeFileSync(join(dir, 'redis-url'), `${REDIS_URL}\n`);
      const tail = run(['tail', stream, '--namespace', namespace], {
        REDIS_URL_FILE: join(dir, 'redis-url'),
      });
      const line = JSON.stringify({ event: 'through-the-url-file' });
      await waitFor(
        async () => {
          await append(stream, namespace, [line]);
          return tail.out().includes(line) ? true : undefined;
        },
        15_000,
        'the tail to print',
      );
      tail.child.kill('SIGINT');
      expect(await tail.exited).toBe(0);

      const missing = run(['tail', stream, '--namespace', namespace], { REDIS_URL_FILE: join(dir, 'none') });
      expect(await missing.exited).toBe(64);
      expect(missing.err()).toContain(`spool: REDIS_URL_FILE: "${join(dir, 'none')}" does not exist`);
      // A URL the services refuse, named as from its file.
      writeFileSync(join(dir, 'bad-url'), 'redis://127.0.0.1:1/abc\n');
      const bad = run(['tail', stream], { REDIS_URL_FILE: join(dir, 'bad-url') });
      expect(await bad.exited).toBe(64);
      expect(bad.err()).toContain(
        'spool: REDIS_URL (from REDIS_URL_FILE): the path must be a database number',
      );
      // --redis says where: the file (the flusher pod's, say) is neither read nor refused; nor is an
      // admin key file, which no command uses.
      const given = run(['status', '--redis', REDIS_URL, '--namespace', namespace], {
        REDIS_URL_FILE: join(dir, 'none'),
        REDIS_CLUSTER_NODES_FILE: join(dir, 'none'),
        ADMIN_KEYS_FILE: join(dir, 'none'),
      });
      expect(await given.exited).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads an empty REDIS_NAMESPACE as unset: the queue under {spool}, never {}', async () => {
    const cli = run(['status', '--redis', REDIS_URL, '--once'], { REDIS_NAMESPACE: '' });
    expect(await cli.exited).toBe(0);
    expect(await redis.exists('{}:flush:meta')).toBe(0);
  });

  it('says in one line that it cannot reach Redis, and that a Cluster that is not one does not answer', async () => {
    const unreachable = run(['status', '--redis', 'redis://127.0.0.1:1']);
    expect(await unreachable.exited).toBe(1);
    expect(unreachable.err().trim()).toBe(
      'spool status: cannot reach Redis (is it running? --redis, --cluster or REDIS_URL say where)',
    );
    // A plain Redis given as a Cluster: ioredis retried for ever (the command hung, a stack
    // trace a retry).
    const notCluster = run(['status', '--cluster', new URL(REDIS_URL).host]);
    expect(await notCluster.exited).toBe(1);
    expect(notCluster.err().trim()).toBe(
      'spool status: cannot read a Redis Cluster there (is it one, and up? --cluster or REDIS_CLUSTER_NODES say where)',
    );
  });

  it('refuses a Redis URL the services refuse, as they do, never repeating it', async () => {
    // Before: "Invalid URL" (a space), a hang retrying a socket path (a tab), SELECT NaN (a path).
    for (const [args, env, says] of [
      [
        ['--redis', 'redis://:cli-pass-0123@127.0.0.1:1/abc'],
        {},
        '--redis: the path must be a database number',
      ],
      [
        [],
        { REDIS_URL: 'redis://:cli-pass-0123@127.0.0.1:1?keyPrefix=x' },
        'REDIS_URL: the query may only be',
      ],
    ] as const) {
      const cli = run(['tail', 'web', ...args], env);
      expect(await cli.exited).toBe(64);
      expect(cli.err()).toContain(`spool: ${says}`);
      expect(cli.err()).not.toContain('cli-pass');
    }
  });

  it('refuses a database the Redis refuses, where ioredis went on in database 0', async () => {
    const url = new URL(REDIS_URL);
    url.pathname = '/99';
    const cli = run(['status', '--redis', url.toString()]);
    expect(await cli.exited).toBe(64);
    expect(cli.err()).toContain(
      'spool: --redis: this Redis refused database 99 (ERR DB index is out of range)',
    );
    expect(cli.out()).toBe('');
  });

  it('says what of the environment is wrong one problem to a line', async () => {
    const cli = run(['verify', '--stream', 'web', '--day', '2026-12-01'], {
      S3_BUCKET: '',
      FLUSH_INTERVAL: '5ms',
    });
    expect(await cli.exited).toBe(1);
    expect(cli.err().trim().split('\n')).toEqual([
      'spool verify: invalid configuration:',
      '  FLUSH_INTERVAL: must be at least 1s; got 5ms',
      '  S3_BUCKET: required: the bucket the objects are in',
    ]);
  });

  it('refuses an admin key in --url, never repeating it', async () => {
    const cli = run(['status', '--url', 'http://cli-admin-key-0123456789@127.0.0.1:1']);
    expect(await cli.exited).toBe(64);
    expect(cli.err()).toContain('--url: put the admin key in SPOOL_ADMIN_KEY, not in the URL');
    expect(cli.err()).not.toContain('cli-admin-key');
  });

  it('says which flusher it cannot reach, and how to name another', async () => {
    const cli = run(['status', '--url', 'http://127.0.0.1:1']);
    expect(await cli.exited).toBe(1);
    expect(cli.err()).toMatch(
      /cannot reach the flusher at http:\/\/127\.0\.0\.1:1 \(.*\): is it running\? --url says where/,
    );
  });

  it("on a terminal, shows a hostile flusher's error escaped in the live view, and goes on redrawing", async () => {
    // A flusher (or anyone on the way to a plain-http one) whose 503 message retitles the window
    // and, through C1's CSI, would repaint the screen.
    const hostile = 'Redis is down \u001b]0;owned\u0007 \u009b2J';
    const server = createServer((_, response) => {
      response.writeHead(503, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ message: hostile }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const { terminal, closed, out } = statusOnATerminal(`http://127.0.0.1:${port}`);
    try {
      // Two paints: the view went on after the error.
      await waitFor(
        async () => (out().split('cannot read the status').length > 2 ? true : undefined),
        20_000,
        'two paints of the live view',
      );
      expect(out()).toContain('\u001b[H\u001b[2J');
      expect(out()).toContain(`Redis is down \\u001b]0;owned\\u0007 \\u009b2J`);
      expect(out()).not.toContain('\u001b]0;');
      expect(out()).not.toContain('\u009b');
    } finally {
      terminal.kill('SIGTERM');
      await closed;
      server.close();
    }
  });

  it("reads a flusher's /status.json with the admin key from SPOOL_ADMIN_KEY, and says when it needs one or refused it", async () => {
    const key = 'cli-admin-key-0123456789';
    const flusher = await spawnService(
      SPOOL_MAINS.flusher,
      flusherTestEnv({ REDIS_NAMESPACE: randomName('ns'), ADMIN_KEYS: key }),
    );
    try {
      const { url } = flusher;
      const refused = run(['status', '--url', url]);
      expect(await refused.exited).toBe(1);
      expect(refused.err()).toContain('wants an admin key: set SPOOL_ADMIN_KEY');
      const wrong = run(['status', '--url', url], { SPOOL_ADMIN_KEY: 'not-the-admin-key' });
      expect(await wrong.exited).toBe(1);
      expect(wrong.err()).toContain("refused SPOOL_ADMIN_KEY: it is not one of the flusher's ADMIN_KEYS");
      expect(wrong.err()).not.toContain('not-the-admin-key');
      const shown = run(['status', '--url', url], { SPOOL_ADMIN_KEY: key });
      expect(await shown.exited).toBe(0);
      expect(shown.out()).toContain('0 streams');
      expect(shown.out() + shown.err()).not.toContain(key);
    } finally {
      await flusher.stop();
    }
  });

  it('on a terminal that reports no size, draws the table 120 columns wide, as for a pipe', async () => {
    const flusher = await spawnService(
      SPOOL_MAINS.flusher,
      flusherTestEnv({ REDIS_NAMESPACE: randomName('ns') }),
    );
    const { terminal, closed, out } = statusOnATerminal(flusher.url);
    try {
      const header = await waitFor(
        async () =>
          // Without the view's bold and its screen clearing.
          stripVTControlCharacters(out())
            .split(/\r?\n/)
            .find((line) => /\bstream\b/.test(line)),
        20_000,
        'the live view',
      );
      expect(header).toMatch(/stream +state +buffer +age +of max/);
    } finally {
      terminal.kill('SIGTERM');
      await closed;
      await flusher.stop();
    }
  });

  it('paints no colour on a terminal with NO_COLOR set (no-color.org), and paints without it', async () => {
    const flusher = await spawnService(
      SPOOL_MAINS.flusher,
      flusherTestEnv({ REDIS_NAMESPACE: randomName('ns') }),
    );
    const BOLD = '\u001b[1m';
    try {
      for (const [env, painted] of [
        [{}, true],
        [{ NO_COLOR: '1' }, false],
      ] as const) {
        const { terminal, closed, out } = statusOnATerminal(flusher.url, env);
        try {
          // The header line, bold unless NO_COLOR.
          await waitFor(
            async () => (stripVTControlCharacters(out()).includes('events/s') ? true : undefined),
            20_000,
            'the live view',
          );
          expect({ env, painted: out().includes(BOLD) }).toEqual({ env, painted });
          // Still redrawn in place: NO_COLOR is about colour only.
          expect(out()).toContain('\u001b[H\u001b[2J');
        } finally {
          terminal.kill('SIGTERM');
          await closed;
        }
      }
    } finally {
      await flusher.stop();
    }
  });

  it('on a terminal, says what it reads from while the first reading is under way', async () => {
    // A flusher that takes the request and never answers: the view's first reading never ends.
    const server = createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const { terminal, closed, out } = statusOnATerminal(`http://127.0.0.1:${port}`);
    try {
      await waitFor(
        async () =>
          stripVTControlCharacters(out()).includes(
            `reading the status from the flusher at http://127.0.0.1:${port}…`,
          ) || undefined,
        20_000,
        'the line saying what the view waits for',
      );
    } finally {
      terminal.kill('SIGTERM');
      await closed;
      server.closeAllConnections();
      server.close();
    }
  });

  it("says why a flusher refused it (403: open views asked by a name), in the flusher's words", async () => {
    // The flusher's answer as status.int.test.ts checks it, from a server that gives it whatever
    // the name: a name that reaches this machine is not the same on every machine.
    const message =
      'ADMIN_KEYS is not set: the admin views answer only requests addressed to an IP address or localhost';
    const server = createServer((_request, response) => {
      response.writeHead(403, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: 'forbidden', message }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const refused = run(['status', '--url', `http://127.0.0.1:${port}`, '--once']);
      expect(await refused.exited).toBe(1);
      expect(refused.err()).toContain(message);
    } finally {
      server.close();
    }
  });
});
