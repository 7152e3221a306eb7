import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import {
  childOutput,
  createTestRedis,
  flusherTestEnv,
  ingestTestEnv,
  randomName,
  SPOOL_MAINS,
  spawnService,
  testServices,
  untilReady,
  waitFor,
  withoutSpoolSettings,
} from '@spool/testkit';

const redis = createTestRedis();
const dir = mkdtempSync(join(tmpdir(), 'spool-secret-files-'));
afterAll(async () => {
  await redis.quit();
  rmSync(dir, { recursive: true, force: true });
});

/** A file holding `text`, as a mounted secret would; its path. */
function secretFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode: 0o400 });
  return path;
}

/** The status of an event sent to `stream` with `key` as Bearer. */
async function statusWithKey(url: string, stream: string, key: string): Promise<number> {
  const response = await fetch(`${url}/v1/streams/${stream}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: '{"event":"with-a-key"}',
  });
  await response.text();
  return response.status;
}

describe('secrets given as files (<NAME>_FILE)', () => {
  it('the ingest takes its write keys and its Redis from files: 100,000 keys, 40 times what one variable can hold', async () => {
    const stream = randomName('keyfile');
    // Started within spawnService's 20 s: the repeated-key checks once searched the keys before
    // each, and 40,000 keys took 26 s to start (a review's run), 100,000 some 5 minutes.
    const keys = Array.from(
      { length: 100_000 },
      (_, index) => `key-${index}-${randomName('k').padEnd(40, 'x')}`,
    );
    const keysFile = secretFile('write-keys', `${keys.map((key) => `${key}:${stream}`).join('\n')}\n`);
    const urlFile = secretFile('redis-url', `${testServices().redisUrl}\n`);
    const ingest = await spawnService(SPOOL_MAINS.ingest, {
      ...ingestTestEnv(),
      ALLOW_ANONYMOUS_WRITES: '',
      REDIS_URL: '',
      REDIS_URL_FILE: urlFile,
      WRITE_KEYS_FILE: keysFile,
    });
    try {
      await untilReady(ingest);
      const answers = [];
      for (const key of [keys[0], keys[99_999], 'not-in-the-file-000', `${keys[99_999]}:${stream}`]) {
        answers.push(await statusWithKey(ingest.url, stream, key as string));
      }
      expect(answers).toEqual([202, 202, 401, 401]);
      // Through the Redis the URL file named.
      const stored = (await redis.getBuffer(streamKeys(stream).buf))?.toString() ?? '';
      expect(stored.match(/with-a-key/g)).toHaveLength(2);
    } finally {
      await ingest.stop();
    }
  });

  it('the flusher guards its admin views with the keys of ADMIN_KEYS_FILE', async () => {
    const adminKey = `admin-${randomName('a')}`.padEnd(24, '0');
    const flusher = await spawnService(SPOOL_MAINS.flusher, {
      ...flusherTestEnv({ REDIS_NAMESPACE: randomName('ns') }),
      ADMIN_KEYS_FILE: secretFile('admin-keys', `another-admin-key-0000\n${adminKey}\n`),
    });
    try {
      const status = async (authorization?: string) => {
        const response = await fetch(`${flusher.url}/status.json`, {
          headers: authorization ? { authorization } : {},
        });
        await response.text();
        return response.status;
      };
      expect([
        await status(),
        await status('Bearer wrong-admin-key-00000'),
        await status(`Bearer ${adminKey}`),
      ]).toEqual([401, 401, 200]);
    } finally {
      await flusher.stop();
    }
  });

  it('the ingest takes a changed WRITE_KEYS_FILE on SIGHUP, without a restart, and keeps its keys when the new file is refused', async () => {
    const stream = randomName('rotate');
    const [oldKey, newKey] = [`old-${randomName('k')}`, `new-${randomName('k')}`];
    const path = secretFile('rotated-write-keys', `${oldKey}:${stream}\n`);
    const ingest = await spawnService(SPOOL_MAINS.ingest, {
      ...ingestTestEnv(),
      ALLOW_ANONYMOUS_WRITES: '',
      WRITE_KEYS_FILE: path,
      LOG_LEVEL: 'info',
    });
    const status = (key: string) => statusWithKey(ingest.url, stream, key);
    const keyFileReadOk = async () => {
      const metrics = await (await fetch(`${ingest.url}/metrics`)).text();
      return /^spool_key_file_read_ok\{setting="WRITE_KEYS"\} (\d)$/m.exec(metrics)?.[1];
    };
    /** Replaces the file whole (as a Secret's update does), sends SIGHUP, and waits for `line`. */
    const rewrite = async (text: string, line: string) => {
      writeFileSync(`${path}.new`, text);
      renameSync(`${path}.new`, path);
      const seen = ingest.output().split(line).length;
      ingest.child.kill('SIGHUP');
      await waitFor(
        async () => (ingest.output().split(line).length > seen ? true : undefined),
        10_000,
        `the ingest to say ${line}`,
      );
    };
    try {
      await untilReady(ingest);
      expect([await status(oldKey), await status(newKey)]).toEqual([202, 401]);
      await rewrite(`${newKey}:${stream}\n`, '"msg":"WRITE_KEYS_FILE read again"');
      expect([await status(oldKey), await status(newKey)]).toEqual([401, 202]);
      expect(await keyFileReadOk()).toBe('1');
      // A key too short: refused as WRITE_KEYS would be, and the keys in use stay.
      await rewrite(`${newKey}:${stream}\nshort:${stream}\n`, 'the keys in use stay as they were');
      expect([await status(oldKey), await status(newKey)]).toEqual([401, 202]);
      // For SpoolKeyFileRefused: a key revoked in that file would still be let in.
      expect(await keyFileReadOk()).toBe('0');
      expect(ingest.output()).toContain('"keys":1,"added":1,"removed":1');
      expect(ingest.output()).not.toContain(newKey);
      expect(ingest.output()).not.toContain(oldKey);
      // It is still running: SIGHUP did not end it.
      expect(ingest.child.exitCode).toBeNull();
    } finally {
      await ingest.stop();
    }
  });

  it("the ingest takes a Kubernetes Secret's update of WRITE_KEYS_FILE by itself, with no signal (a look every 10 s)", async () => {
    const stream = randomName('k8s');
    const [oldKey, newKey] = [`old-${randomName('k')}`, `new-${randomName('k')}`];
    // A Secret's volume, as the kubelet writes it: keys -> ..data/keys, ..data -> a directory.
    const volume = join(dir, randomName('volume'));
    for (const [version, key] of [
      ['v1', oldKey],
      ['v2', newKey],
    ] as const) {
      mkdirSync(join(volume, version), { recursive: true });
      writeFileSync(join(volume, version, 'keys'), `${key}:${stream}\n`);
    }
    symlinkSync('v1', join(volume, '..data'));
    symlinkSync(join('..data', 'keys'), join(volume, 'keys'));
    const ingest = await spawnService(SPOOL_MAINS.ingest, {
      ...ingestTestEnv(),
      ALLOW_ANONYMOUS_WRITES: '',
      WRITE_KEYS_FILE: join(volume, 'keys'),
      LOG_LEVEL: 'info',
    });
    const status = (key: string) => statusWithKey(ingest.url, stream, key);
    try {
      await untilReady(ingest);
      expect([await status(oldKey), await status(newKey)]).toEqual([202, 401]);
      symlinkSync('v2', join(volume, '..data_tmp'));
      renameSync(join(volume, '..data_tmp'), join(volume, '..data'));
      await waitFor(
        async () => (ingest.output().includes('"msg":"WRITE_KEYS_FILE read again"') ? true : undefined),
        30_000,
        'the ingest to read the swapped file',
      );
      expect([await status(oldKey), await status(newKey)]).toEqual([401, 202]);
    } finally {
      await ingest.stop();
    }
  }, 60_000);

  it.each(['ingest', 'flusher'] as const)(
    'with a key file, SIGHUPs while the %s shuts down do not end it before it has stopped',
    async (which) => {
      const env =
        which === 'ingest'
          ? {
              ...ingestTestEnv(),
              ALLOW_ANONYMOUS_WRITES: '',
              WRITE_KEYS_FILE: secretFile(randomName('hup'), 'hup-key-00001:*\n'),
            }
          : {
              ...flusherTestEnv({ REDIS_NAMESPACE: randomName('ns') }),
              ADMIN_KEYS_FILE: secretFile(randomName('hup'), 'hup-admin-key-0000001\n'),
            };
      const service = await spawnService(SPOOL_MAINS[which], { ...env, LOG_LEVEL: 'info' });
      // SIGTERM, then a SIGHUP every 2 ms until it has exited: with the watch closed in the
      // shutdown, SIGHUP's default ended it (exit 129) before its shutdown was done.
      const stopped = service.stop('SIGTERM');
      let exited = false;
      void stopped.then(() => {
        exited = true;
      });
      while (!exited) {
        service.child.kill('SIGHUP');
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await stopped;
      // After `stopped`, Node gives SIGHUP its default back as it exits: the code may be either.
      expect(service.output()).toContain('"msg":"stopped"');
    },
  );

  it('without a key file, SIGHUP still ends the ingest (make dev counts on it when its terminal closes)', async () => {
    const ingest = await spawnService(SPOOL_MAINS.ingest, ingestTestEnv());
    expect(await ingest.stop('SIGHUP')).toBeNull();
    expect(ingest.child.signalCode).toBe('SIGHUP');
  });

  it('the flusher takes a changed ADMIN_KEYS_FILE on SIGHUP', async () => {
    const [oldKey, newKey] = [`old-admin-${randomName('a')}`, `new-admin-${randomName('a')}`];
    const path = secretFile('rotated-admin-keys', `${oldKey}\n`);
    const flusher = await spawnService(SPOOL_MAINS.flusher, {
      ...flusherTestEnv({ REDIS_NAMESPACE: randomName('ns') }),
      ADMIN_KEYS_FILE: path,
      LOG_LEVEL: 'info',
    });
    const status = async (key: string) => {
      const response = await fetch(`${flusher.url}/status.json`, {
        headers: { authorization: `Bearer ${key}` },
      });
      await response.text();
      return response.status;
    };
    try {
      expect([await status(oldKey), await status(newKey)]).toEqual([200, 401]);
      writeFileSync(`${path}.new`, `${newKey}\n`);
      renameSync(`${path}.new`, path);
      flusher.child.kill('SIGHUP');
      await waitFor(
        async () => (flusher.output().includes('"msg":"ADMIN_KEYS_FILE read again"') ? true : undefined),
        10_000,
        'the flusher to read its key file again',
      );
      expect([await status(oldKey), await status(newKey)]).toEqual([401, 200]);
      expect(await (await fetch(`${flusher.url}/metrics`)).text()).toMatch(
        /^spool_key_file_read_ok\{setting="ADMIN_KEYS"\} 1$/m,
      );
    } finally {
      await flusher.stop();
    }
  });

  it.each([
    [
      'missing',
      { WRITE_KEYS_FILE: join(dir, 'never-mounted') },
      `WRITE_KEYS_FILE: "${join(dir, 'never-mounted')}" does not exist`,
    ],
    [
      'empty',
      { WRITE_KEYS_FILE: secretFile('empty-keys', '\n') },
      `WRITE_KEYS_FILE: "${join(dir, 'empty-keys')}" holds nothing`,
    ],
  ])(
    'a write key file %s stops the ingest before it listens (exit 78), naming it',
    async (_, env, message) => {
      const child = spawn(process.execPath, [SPOOL_MAINS.ingest], {
        env: { ...withoutSpoolSettings(), ...ingestTestEnv(), ALLOW_ANONYMOUS_WRITES: '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const { closed, all } = childOutput(child);
      expect(await closed).toBe(78);
      expect(all()).toContain(message);
    },
  );
});
