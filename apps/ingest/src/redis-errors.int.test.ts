import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomName, spawnService, waitFor } from '@spool/testkit';
import { freePort } from '@spool/testkit/ports';
import { Redis } from 'ioredis';

/**
 * Redis refusing an append (out of memory, a read-only replica, a failed snapshot) must never put
 * the events into the logs: ioredis attaches a failed command's arguments to its error. Each
 * refusal is forced for real on a redis-server of this test's own, at every log level.
 */
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const SECRETS = ['jane.doe@example.com', '078-05-1120'];

let dir: string;
let server: ChildProcess;
let admin: Redis;
let redisUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'spool-redis-errors-'));
  const port = await freePort();
  redisUrl = `redis://127.0.0.1:${port}`;
  server = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--enable-protected-configs',
      'yes',
    ],
    {
      stdio: 'ignore',
    },
  );
  admin = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  await waitFor(
    async () => ((await admin.ping().catch(() => '')) === 'PONG' ? true : undefined),
    10_000,
    'redis',
  );
});
afterAll(async () => {
  admin.disconnect();
  server.kill('SIGKILL');
  await once(server, 'exit');
  rmSync(dir, { recursive: true, force: true });
});

/** Each refusal: how to cause it, how to end it, and what Redis says. */
const REFUSALS = {
  'out of memory (OOM)': {
    cause: () => admin.config('SET', 'maxmemory', '1'),
    end: () => admin.config('SET', 'maxmemory', '0'),
    says: 'OOM',
  },
  'a read-only replica (READONLY)': {
    // A primary that does not exist: the server turns replica, and refuses writes.
    cause: () => admin.call('REPLICAOF', '127.0.0.1', '1'),
    end: () => admin.call('REPLICAOF', 'NO', 'ONE'),
    says: 'READONLY',
  },
  'a failed snapshot (MISCONF)': {
    cause: async () => {
      // A snapshot into a directory deleted under the server fails, even for root; with a save
      // point configured, Redis then refuses writes.
      await admin.config('SET', 'save', '3600 1');
      const gone = join(dir, randomName('gone'));
      mkdirSync(gone);
      await admin.config('SET', 'dir', gone);
      rmSync(gone, { recursive: true });
      await admin.bgsave();
      await waitFor(
        async () =>
          (await admin.info('persistence')).includes('rdb_last_bgsave_status:err') ? true : undefined,
        10_000,
        'the snapshot to fail',
      );
    },
    end: async () => {
      await admin.config('SET', 'dir', dir);
      await admin.bgsave();
      await waitFor(
        async () =>
          (await admin.info('persistence')).includes('rdb_last_bgsave_status:ok') ? true : undefined,
        10_000,
        'a snapshot to succeed',
      );
      await admin.config('SET', 'save', '');
    },
    says: 'MISCONF',
  },
};

describe('an append Redis refuses', () => {
  it.each(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])(
    'answers 503 and logs no event data at level %s',
    async (level) => {
      const ingest = await spawnService(MAIN, {
        ALLOW_ANONYMOUS_WRITES: 'true',
        REDIS_URL: redisUrl,
        LOG_LEVEL: level,
        // Redis's own OOM refusal: without the reserve, which would refuse first (memory-reserve.int).
        REDIS_MEMORY_RESERVE: '0',
      });
      const stream = randomName();
      const post = (body: object) =>
        fetch(`${ingest.url}/v1/streams/${stream}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      // Ready: its Redis connection is up. It is not yet once spawnService returns (a clean-clone
      // run on a busy machine got 503 here), nor right after READONLY, on which it reconnects.
      const ready = () =>
        waitFor(
          async () => ((await fetch(`${ingest.url}/readyz`)).status === 200 ? true : undefined),
          10_000,
          'the ingest to be ready',
        );
      // Appending again: after READONLY, /readyz can say ready while the refused connection is
      // still closing (its status changes on the socket's close), and a clean-clone run's next
      // request got "Stream isn't writeable" in place of MISCONF. A 202 is the new connection's.
      const appending = () =>
        waitFor(
          async () => ((await post({ warm: true })).status === 202 ? true : undefined),
          10_000,
          'the ingest to append again',
        );
      try {
        await ready();
        // Registered, and the script loaded: what fails next is the append itself.
        expect((await post({ warm: true })).status).toBe(202);
        for (const [name, refusal] of Object.entries(REFUSALS)) {
          await refusal.cause();
          try {
            const answer = await post({ event: 'signup', email: SECRETS[0], ssn: SECRETS[1], refusal: name });
            expect(answer.status).toBe(503);
          } finally {
            await refusal.end();
          }
          await appending();
        }
      } finally {
        await ingest.stop();
      }
      const output = ingest.output();
      for (const secret of SECRETS) expect(output).not.toContain(secret);
      // The refusals themselves are logged (at error level), so the check above had logs to read.
      for (const { says } of Object.values(REFUSALS)) {
        if (level === 'fatal') expect(output).not.toContain(says);
        else expect(output).toContain(says);
      }
    },
  );
});

describe('a Redis that cannot be reached', () => {
  it('costs the log one line per 10 s for each cause, with a count, not a line (and a stack) per request', async () => {
    const ingest = await spawnService(MAIN, {
      ALLOW_ANONYMOUS_WRITES: 'true',
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      LOG_LEVEL: 'warn',
    });
    try {
      for (let i = 0; i < 50; i += 1) {
        const answer = await fetch(`${ingest.url}/v1/streams/s${i % 5}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"n":1}',
        });
        expect(answer.status).toBe(503);
      }
    } finally {
      await ingest.stop();
    }
    const failures = ingest
      .output()
      .split('\n')
      .filter((line) => line.includes('failed; answering 503'));
    // The first at once, then a line for each 10 s window (its last, at the stop): not one a
    // request, and every failure accounted for.
    expect(failures.length).toBeLessThanOrEqual(10);
    const accounted = failures
      .map((line) => JSON.parse(line) as { repeatedSinceLastLine?: number })
      .reduce((sum, line) => sum + 1 + (line.repeatedSinceLastLine ?? 0), 0);
    expect(accounted).toBe(50);
    // ioredis's error says only that it could not send: the line says the connection is away.
    expect(failures[0]).toMatch(/"redisConnection":"(connecting|reconnecting)"/);
  });
});
