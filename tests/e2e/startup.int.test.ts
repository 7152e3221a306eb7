import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  childOutput,
  createTestRedis,
  flusherTestEnv,
  ingestTestEnv,
  randomName,
  SPOOL_MAINS,
  spawnService,
  testServices,
  waitFor,
} from '@spool/testkit';
import { startRedisServer } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';

/** How a service started with `env` (and what else it needs to start) exits, within 20 s, and its stderr. */
async function exitOf(
  app: 'ingest' | 'flusher',
  env: Record<string, string>,
): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, [SPOOL_MAINS[app]], {
    env: {
      PATH: process.env.PATH,
      ALLOW_ANONYMOUS_WRITES: 'true',
      S3_BUCKET: 'b',
      S3_ENDPOINT: 'http://127.0.0.1:1',
      PORT: '0',
      LOG_LEVEL: 'silent',
      ...env,
    },
  });
  const { closed, err } = childOutput(child);
  // Killed if it runs on: status null, which the checks show.
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const status = await closed;
  clearTimeout(timer);
  return { status, stderr: err() };
}

describe('start-up with a bad configuration', () => {
  it.each([
    ['ingest', { FLUSH_THRESHOLD_BYTES: 'lots' }, /FLUSH_THRESHOLD_BYTES: expected a size/],
    ['ingest', { WRITE_KEYS: 'tiny:web' }, /WRITE_KEYS: entry 1 is not/],
    // Fail closed: an open service is a choice, never the result of a missing Secret.
    ['ingest', {}, /WRITE_KEYS: required, so that only holders of a key can write/],
    ['ingest', { WRITE_KEYS: '' }, /ALLOW_ANONYMOUS_WRITES=true instead/],
    ['flusher', { S3_BUCKET: '' }, /S3_BUCKET: required: the bucket the objects are in/],
    ['flusher', { S3_BUCKET: 'b', FLUSH_CONCURRENCY: '0' }, /FLUSH_CONCURRENCY: expected a whole number/],
    // Values that once passed the checks, then crashed later or retried for ever.
    ['ingest', { WRITE_KEYS: 'tiny-but-ok:web', TRUST_PROXY: '999.1.1.1' }, /TRUST_PROXY: expected false/],
    [
      'ingest',
      { WRITE_KEYS: 'tiny-but-ok:web', REDIS_URL: 'http://127.0.0.1:1' },
      /REDIS_URL: expected redis:/,
    ],
    ['flusher', { S3_BUCKET: 'b', S3_ENDPOINT: '127.0.0.1:9000' }, /S3_ENDPOINT: expected an http/],
  ] as const)(
    '%s with %p exits 78 naming the variable, before connecting to anything',
    (app, env, message) => {
      const result = spawnSync(process.execPath, [SPOOL_MAINS[app]], {
        env: { PATH: process.env.PATH, REDIS_URL: 'redis://127.0.0.1:1', ...env },
        encoding: 'utf8',
        timeout: 10_000,
      });
      expect(result.status).toBe(78);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toContain('tiny');
    },
  );

  it.each([
    ['ingest', { ALLOW_ANONYMOUS_WRITES: 'true' }],
    ['flusher', { S3_BUCKET: 'b' }],
  ] as const)(
    '%s --check-config says a valid configuration is, exits 0, and connects to nothing',
    async (app, env) => {
      // Redis and S3 listen nowhere: a process that connected would wait, log, and not exit 0.
      const result = spawnSync(process.execPath, [SPOOL_MAINS[app], '--check-config'], {
        env: {
          PATH: process.env.PATH,
          REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
          S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
          PORT: '1',
          REDIS_NAMESPCE: 'typo',
          ...env,
        },
        encoding: 'utf8',
        timeout: 10_000,
      });
      expect(result.status).toBe(0);
      expect(result.stdout).toBe(
        `spool-${app}: the configuration is valid\nspool-${app}: not settings Spool has, ignored: REDIS_NAMESPCE (REDIS_NAMESPACE?)\n`,
      );
    },
  );

  it.each([
    ['ingest', { WRITE_KEYS: 'short' }, /WRITE_KEYS/],
    ['flusher', { S3_BUCKET: 'b', S3_PREFIX: '/events/' }, /S3_PREFIX/],
  ] as const)('%s --check-config refuses what the process would refuse, exit 78', (app, env, message) => {
    const result = spawnSync(process.execPath, [SPOOL_MAINS[app], '--check-config'], {
      env: { PATH: process.env.PATH, ...env },
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toMatch(message);
  });

  it.each(['ingest', 'flusher'] as const)(
    '%s with a HOST that does not resolve exits 78 naming HOST and PORT',
    (app) => {
      const start = (logLevel?: string) =>
        spawnSync(process.execPath, [SPOOL_MAINS[app]], {
          env: {
            PATH: process.env.PATH,
            // A Redis that answers: the flusher starts its worker before it listens.
            REDIS_URL: testServices().redisUrl,
            ALLOW_ANONYMOUS_WRITES: 'true',
            S3_BUCKET: 'b',
            S3_ENDPOINT: 'http://127.0.0.1:1',
            HOST: 'no-such-host.invalid',
            PORT: '0',
            ...(logLevel ? { LOG_LEVEL: logLevel } : {}),
          },
          encoding: 'utf8',
          timeout: 10_000,
        });
      const result = start();
      expect(result.stdout).toContain('cannot listen on HOST=no-such-host.invalid PORT=0');
      expect(result.status).toBe(78);
      // With logging off: said on stderr all the same (it exited saying nothing).
      const silent = start('silent');
      expect(silent.stderr).toContain('cannot listen on HOST=no-such-host.invalid PORT=0: ENOTFOUND');
      expect(silent.status).toBe(78);
    },
  );

  it.each(['ingest', 'flusher'] as const)(
    '%s names at start a variable that looks like a setting and is none (a typo was ignored in silence)',
    async (app) => {
      const env = { REDIS_NAMESPCE: 'prod', LOG_LEVEL: 'warn', REDIS_NAMESPACE: randomName('ns') };
      const service = await spawnService(
        SPOOL_MAINS[app],
        app === 'ingest' ? ingestTestEnv(env) : flusherTestEnv(env),
      );
      try {
        await waitFor(
          async () => (service.output().includes('not a setting Spool has') ? true : undefined),
          10_000,
          'the warning',
        );
        expect(service.output()).toContain(
          '"variables":["REDIS_NAMESPCE"],"didYouMean":{"REDIS_NAMESPCE":"REDIS_NAMESPACE"}',
        );
      } finally {
        await service.stop();
      }
    },
  );

  it('ingest given rediss:// for a Redis without TLS says what to change beside the connect timeout, not only ETIMEDOUT', async () => {
    const ingest = await spawnService(
      SPOOL_MAINS.ingest,
      ingestTestEnv({
        REDIS_URL: testServices().redisUrl.replace(/^redis:/, 'rediss:'),
        LOG_LEVEL: 'warn',
        REDIS_NAMESPACE: randomName('ns'),
      }),
    );
    try {
      // ioredis's connect timeout is 10 s: the handshake is never answered before it.
      await waitFor(
        async () => (ingest.output().includes('"msg":"redis connection error"') ? true : undefined),
        25_000,
        'the connection error',
      );
      const line = ingest
        .output()
        .split('\n')
        .find((text) => text.includes('"msg":"redis connection error"'));
      expect(JSON.parse(line as string)).toMatchObject({
        err: { code: 'ETIMEDOUT' },
        hint: expect.stringContaining('use redis:// for it'),
      });
    } finally {
      await ingest.stop();
    }
  });

  it('ingest names at start, by entry, the write keys an SDK cannot send: Basic ends at ":", browser URLs at ? # % &', async () => {
    const keys = ['url-safe-key-0001:*', 'acme:live-0123456789:*', 'b64&key+0003=:*', 'b64+key/0004=:*'];
    const ingest = await spawnService(
      SPOOL_MAINS.ingest,
      ingestTestEnv({ WRITE_KEYS: keys.join(';'), LOG_LEVEL: 'warn', REDIS_NAMESPACE: randomName('ns') }),
    );
    try {
      await waitFor(
        async () => (ingest.output().includes('cannot be sent by the browser SDKs') ? true : undefined),
        10_000,
        'the warning',
      );
      const lines = ingest.output().split('\n');
      expect(lines.find((line) => line.includes('can be sent only as Bearer or X-Write-Key'))).toContain(
        '"entries":[2]',
      );
      expect(lines.find((line) => line.includes('cannot be sent by the browser SDKs'))).toContain(
        '"entries":[3]',
      );
      // Never the keys themselves.
      expect(ingest.output()).not.toMatch(/live-0123456789|b64/);
    } finally {
      await ingest.stop();
    }
  });

  it.each([
    [
      'a bucket the store does not have',
      { S3_BUCKET: 'no-such-bucket-at-all' },
      'S3_BUCKET: no such bucket in this store',
    ],
    [
      'a store it cannot reach',
      { S3_ENDPOINT: 'http://127.0.0.1:1' },
      'S3_ENDPOINT: the store cannot be reached (ECONNREFUSED)',
    ],
  ])(
    'flusher says at start when it is given %s (every flush would fail, behind a ready /readyz)',
    async (_, env, warning) => {
      const flusher = await spawnService(
        SPOOL_MAINS.flusher,
        flusherTestEnv({ REDIS_NAMESPACE: randomName('ns'), LOG_LEVEL: 'warn', ...env }),
      );
      try {
        await waitFor(
          async () => (flusher.output().includes(warning) ? true : undefined),
          15_000,
          'the warning',
        );
      } finally {
        await flusher.stop();
      }
    },
  );

  it('flusher without ADMIN_KEYS says at start that its admin views are open, and with them, says nothing', async () => {
    const open = await spawnService(
      SPOOL_MAINS.flusher,
      flusherTestEnv({ REDIS_NAMESPACE: randomName('ns'), LOG_LEVEL: 'info' }),
    );
    const keyed = await spawnService(
      SPOOL_MAINS.flusher,
      flusherTestEnv({
        REDIS_NAMESPACE: randomName('ns'),
        LOG_LEVEL: 'info',
        ADMIN_KEYS: 'startup-admin-key-0123',
      }),
    );
    try {
      await waitFor(
        async () => (open.output().includes('flusher running') ? true : undefined),
        10_000,
        'start',
      );
      await waitFor(
        async () => (keyed.output().includes('flusher running') ? true : undefined),
        10_000,
        'start',
      );
      expect(open.output()).toMatch(
        /ADMIN_KEYS is not set \(or is empty, as an empty Secret's value leaves it\): \/status, \/status\.json and \/queues are open to anyone/,
      );
      expect(keyed.output()).not.toContain('ADMIN_KEYS is not set');
    } finally {
      await open.stop();
      await keyed.stop();
    }
  });

  it('flusher says at start what of Redis setup loses events: an eviction policy other than noeviction', async () => {
    // A Redis of its own: the shared one's settings are not this test's to change.
    const dir = mkdtempSync(join(tmpdir(), 'evicting-'));
    const port = await freePort();
    const redis = startRedisServer('evicting', port, dir, ['--maxmemory-policy', 'allkeys-lru']);
    try {
      const flusher = await spawnService(
        SPOOL_MAINS.flusher,
        flusherTestEnv({ REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: 'warn' }),
      );
      try {
        await waitFor(
          async () =>
            flusher.output().includes('Redis is set up to lose or hold up events') ? true : undefined,
          10_000,
          'the warning',
        );
        expect(flusher.output()).toContain('maxmemory-policy is allkeys-lru');
      } finally {
        await flusher.stop();
      }
    } finally {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(['ingest', 'flusher'] as const)(
    '%s whose REDIS_URL names a node of a Redis Cluster exits 78, saying to use REDIS_CLUSTER_NODES',
    async (app) => {
      // A node with cluster mode on: it would serve its own slots only (others: MOVED, and 503).
      const dir = mkdtempSync(join(tmpdir(), 'cluster-node-'));
      const port = await freePort();
      const node = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--cluster-enabled',
          'yes',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        { stdio: 'ignore' },
      );
      try {
        const result = await exitOf(app, { REDIS_URL: `redis://127.0.0.1:${port}` });
        // Both in one failure: status null is the 20 s kill (the check never refused), 78 with
        // nothing said is the output lost.
        expect(result).toEqual({
          status: 78,
          stderr: expect.stringContaining(
            'REDIS_URL: a node of a Redis Cluster; name the cluster with REDIS_CLUSTER_NODES',
          ),
        });
      } finally {
        node.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it.each(['ingest', 'flusher'] as const)(
    '%s whose REDIS_CLUSTER_NODES names a Redis that is no Cluster node exits 78, saying to use REDIS_URL',
    async (app) => {
      // ioredis asked it for the slots for ever, and every request was answered 503.
      const redis = new URL(testServices().redisUrl);
      const result = await exitOf(app, { REDIS_CLUSTER_NODES: `${redis.hostname}:${redis.port}` });
      expect(result).toEqual({
        status: 78,
        stderr: expect.stringContaining(
          'REDIS_CLUSTER_NODES: a Redis that is not a Cluster node ("cluster support disabled"); name a single Redis with REDIS_URL instead',
        ),
      });
    },
  );

  it.each(['ingest', 'flusher'] as const)(
    '%s whose REDIS_URL names a database its Redis does not have exits 78, never writing to database 0',
    async (app) => {
      // ioredis logged the refused SELECT and went on in database 0: deployments kept apart by
      // their databases shared their keys.
      const url = new URL(testServices().redisUrl);
      url.pathname = '/99';
      const namespace = randomName('db');
      const result = await exitOf(app, { REDIS_URL: url.toString(), REDIS_NAMESPACE: namespace });
      expect(result.stderr).toContain(
        'REDIS_URL: this Redis refused database 99 (ERR DB index is out of range)',
      );
      expect(result.status).toBe(78);
      const redis = createTestRedis();
      try {
        expect(await redis.keys(`*${namespace}*`)).toEqual([]);
      } finally {
        redis.disconnect();
      }
    },
  );

  it('flusher with OUTPUT_FORMAT=parquet where DuckDB cannot load exits 78 saying so', () => {
    // A resolve hook that refuses DuckDB, as on a platform without its prebuilt binding.
    const hook = `data:text/javascript,export async function resolve(specifier, context, next) {
      if (specifier === '@duckdb/node-api') throw new Error('no DuckDB binding for this platform');
      return next(specifier, context);
    }`;
    const register = `data:text/javascript,import { register } from 'node:module'; register(${JSON.stringify(hook)});`;
    const result = spawnSync(process.execPath, ['--import', register, SPOOL_MAINS.flusher], {
      env: {
        PATH: process.env.PATH,
        REDIS_URL: 'redis://127.0.0.1:1',
        S3_BUCKET: 'b',
        OUTPUT_FORMAT: 'web:parquet',
      },
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(result.stderr).toMatch(
      /OUTPUT_FORMAT: parquet needs DuckDB \(@duckdb\/node-api\), which cannot load here: no DuckDB binding for this platform/,
    );
    expect(result.status).toBe(78);
  });

  it('flusher with OUTPUT_FORMAT=parquet and a TMPDIR it cannot stage in exits 78 naming TMPDIR', () => {
    // It said it was ready, then died on its first look at the disk: exit 1, a stack trace.
    const file = join(mkdtempSync(join(tmpdir(), 'spool-startup-')), 'a-file');
    writeFileSync(file, '');
    for (const [dir, why] of [
      ['/nonexistent-tmp', 'does not exist'],
      [file, 'is not a directory'],
    ]) {
      const result = spawnSync(process.execPath, [SPOOL_MAINS.flusher], {
        env: {
          PATH: process.env.PATH,
          REDIS_URL: 'redis://127.0.0.1:1',
          S3_BUCKET: 'b',
          OUTPUT_FORMAT: 'web:parquet',
          TMPDIR: dir,
        },
        encoding: 'utf8',
        timeout: 10_000,
      });
      expect(result.stderr).toContain(`TMPDIR: ${dir} ${why}; Parquet flushes stage their files there`);
      expect(result.status).toBe(78);
    }
    rmSync(dirname(file), { recursive: true, force: true });
  });
});
