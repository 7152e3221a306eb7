import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { loadConfig, unknownSettings } from './config.js';
import { MAX_SETTING_FILE_BYTES } from './setting-files.js';

const OPEN = { ALLOW_ANONYMOUS_WRITES: 'true' };
const BUCKET = { S3_BUCKET: 'b' };

const dir = mkdtempSync(join(tmpdir(), 'spool-setting-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A file holding `text`; its path. */
function file(text: string | Buffer): string {
  const path = join(dir, `setting-${files++}`);
  writeFileSync(path, text);
  return path;
}

/** loadConfig's message, or '' when it accepts. */
function refusal(env: Record<string, string>, process: 'ingest' | 'flusher'): string {
  try {
    loadConfig(env, process);
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('settings read from <NAME>_FILE', () => {
  it('WRITE_KEYS_FILE: one entry a line, or the variable’s own text, blank lines and spaces around ignored', () => {
    const path = file('\uFEFFkey-one-0001:web,app\r\n\n  key-two-0002:*  \nkey-three-03:a;key-four-004:b\n');
    const keys = loadConfig({ WRITE_KEYS_FILE: path }, 'ingest').writeKeys;
    expect(keys.map(({ key, streams }) => [key, streams === '*' ? '*' : [...streams]])).toEqual([
      ['key-one-0001', ['web', 'app']],
      ['key-two-0002', '*'],
      ['key-three-03', ['a']],
      ['key-four-004', ['b']],
    ]);
  });

  it('takes more keys than one environment variable can hold (Linux: 128 KiB a string)', () => {
    const lines = Array.from(
      { length: 5_000 },
      (_, index) => `write-key-${String(index).padStart(40, '0')}:web`,
    );
    const keys = loadConfig({ WRITE_KEYS_FILE: file(lines.join('\n')) }, 'ingest').writeKeys;
    expect(keys).toHaveLength(5_000);
    expect(keys.at(-1)?.key).toBe(`write-key-${String(4_999).padStart(40, '0')}`);
    const admin = Array.from({ length: 5_000 }, (_, index) => `admin-key-${String(index).padStart(40, '0')}`);
    expect(
      loadConfig({ ...BUCKET, ADMIN_KEYS_FILE: file(admin.join('\n')) }, 'flusher').adminKeys,
    ).toHaveLength(5_000);
    // What the file replaces: such a value in the environment stops a process before it runs.
    expect(lines.join(';').length).toBeGreaterThan(128 * 1024);
    expect(() => execFileSync('true', [], { env: { WRITE_KEYS: lines.join(';') }, stdio: 'ignore' })).toThrow(
      /E2BIG/,
    );
  });

  it('ADMIN_KEYS_FILE, REDIS_URL_FILE and REDIS_CLUSTER_NODES_FILE, as their variables', () => {
    const admin = file('an-admin-key-of-16-chars\nanother-admin-key-16ch\n');
    const url = file('redis://:s3cret@redis.internal:6380/2\n');
    const flusher = loadConfig({ ...BUCKET, ADMIN_KEYS_FILE: admin, REDIS_URL_FILE: url }, 'flusher');
    expect(flusher.adminKeys).toEqual(['an-admin-key-of-16-chars', 'another-admin-key-16ch']);
    expect(flusher.redis).toEqual({ kind: 'standalone', url: 'redis://:s3cret@redis.internal:6380/2' });
    const nodes = file('redis://:pw@node-a:6379\nredis://:pw@node-b:6379\n');
    const ingest = loadConfig({ ...OPEN, REDIS_CLUSTER_NODES_FILE: nodes }, 'ingest');
    expect(ingest.redis).toMatchObject({ kind: 'cluster', nodes: [{ host: 'node-a' }, { host: 'node-b' }] });
  });

  it('refuses, naming the variable and the path but never the contents: both set, missing, empty, a directory, too large, unreadable, a URL of two lines, a bad value', () => {
    const keys = file('secret-write-key-1:web');
    const tooLarge = file(Buffer.alloc(MAX_SETTING_FILE_BYTES + 1, 'a'));
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const cases: [Record<string, string>, 'ingest' | 'flusher', string][] = [
      [
        { WRITE_KEYS: 'other-key-0001:*', WRITE_KEYS_FILE: keys },
        'ingest',
        'WRITE_KEYS_FILE: WRITE_KEYS is set too; choose one',
      ],
      [
        { WRITE_KEYS_FILE: join(dir, 'missing') },
        'ingest',
        `WRITE_KEYS_FILE: "${join(dir, 'missing')}" does not exist`,
      ],
      // A secret mounted without its data must not open the admin views, nor the ingest.
      [{ ...BUCKET, ADMIN_KEYS_FILE: file('\n \n') }, 'flusher', 'holds nothing'],
      [{ WRITE_KEYS_FILE: file('') }, 'ingest', 'holds nothing'],
      [{ WRITE_KEYS_FILE: dir }, 'ingest', `WRITE_KEYS_FILE: "${dir}" is not a regular file`],
      // Read, a FIFO no one writes to would hold the start for good.
      [{ WRITE_KEYS_FILE: fifo }, 'ingest', `WRITE_KEYS_FILE: "${fifo}" is not a regular file`],
      [{ WRITE_KEYS_FILE: tooLarge }, 'ingest', 'is larger than 16MiB'],
      [{ WRITE_KEYS_FILE: `${keys}/x` }, 'ingest', `WRITE_KEYS_FILE: "${keys}/x" cannot be read (ENOTDIR)`],
      [
        { ...OPEN, REDIS_URL_FILE: file('redis://a:6379\nredis://b:6379\n') },
        'ingest',
        'holds more than one line',
      ],
      // Checked as the variable is, and named as coming from the file.
      [
        { WRITE_KEYS_FILE: file('secret-write-key-2:Not A Stream') },
        'ingest',
        'WRITE_KEYS (from WRITE_KEYS_FILE): entry 1 is not',
      ],
    ];
    for (const [env, process, message] of cases) {
      const said = refusal(env, process);
      expect([env, said]).toEqual([env, expect.stringContaining(message)]);
      expect(said).not.toMatch(/secret-write-key|aaaa/);
    }
  });

  it("reads only this process's files: the other's may not be mounted here", () => {
    const missing = join(dir, 'not-mounted');
    expect(loadConfig({ ...BUCKET, WRITE_KEYS_FILE: missing }, 'flusher').writeKeys).toEqual([]);
    expect(loadConfig({ ...OPEN, ADMIN_KEYS_FILE: missing }, 'ingest').port).toBe(8080);
    expect(refusal({ ...OPEN, ADMIN_KEYS_FILE: missing }, 'flusher')).toContain('ADMIN_KEYS_FILE');
  });

  it('are settings, not typos; their typos are said', () => {
    expect(
      unknownSettings({
        WRITE_KEYS_FILE: 'a',
        ADMIN_KEYS_FILE: 'a',
        REDIS_URL_FILE: 'a',
        REDIS_CLUSTER_NODES_FILE: 'a',
        WRITE_KEY_FILE: 'a',
        REDIS_URL_FLE: 'a',
        // Settings with no file form; and the AWS SDK's own files, not Spool's to judge.
        AWS_SECRET_ACCESS_KEY_FILE: 'a',
        LOG_LEVEL_FILE: 'a',
        AWS_SHARED_CREDENTIALS_FILE: 'a',
        AWS_WEB_IDENTITY_TOKEN_FILE: 'a',
      }),
    ).toEqual(['AWS_SECRET_ACCESS_KEY_FILE', 'LOG_LEVEL_FILE', 'REDIS_URL_FLE', 'WRITE_KEY_FILE']);
  });
});
