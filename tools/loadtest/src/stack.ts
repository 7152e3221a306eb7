import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, REPO_ROOT, redisServerArgs, s3StandinMain, until } from './processes.js';

export interface OwnStack {
  url: string;
  redisUrl: string;
  s3Endpoint: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  stop(): Promise<void>;
}

const answers = (url: string) => async () => (await fetch(url)).status < 500;

/**
 * A stack of its own on 127.0.0.1 in a temporary folder: redis-server (AOF everysec, as shipped),
 * the s3rver stand-in, the built ingest and flusher. `thresholdBytes` sizes the buffers.
 */
export async function startOwnStack(thresholdBytes: number, log: (line: string) => void): Promise<OwnStack> {
  const dir = mkdtempSync(join(tmpdir(), 'spool-loadtest-'));
  const children: ChildProcess[] = [];
  const start = (command: string, args: string[], env: Record<string, string> = {}) => {
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    return child;
  };
  const [redisPort, s3Port, ingestPort, flusherPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const bucket = 'loadtest';
  const credentials = { AWS_ACCESS_KEY_ID: 'spool', AWS_SECRET_ACCESS_KEY: 'spool-local-secret' };

  start('redis-server', redisServerArgs(redisPort, dir, 'everysec'));
  start(process.execPath, [s3StandinMain(), 'server', join(dir, 's3')], {
    MINIO_ROOT_USER: credentials.AWS_ACCESS_KEY_ID,
    MINIO_ROOT_PASSWORD: credentials.AWS_SECRET_ACCESS_KEY,
    S3_ADDRESS: '127.0.0.1',
    S3_PORT: String(s3Port),
    S3_BUCKETS: bucket,
  });
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const s3Endpoint = `http://127.0.0.1:${s3Port}`;
  await until('s3rver', answers(`${s3Endpoint}/`));
  const common = {
    REDIS_URL: redisUrl,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    FLUSH_THRESHOLD_BYTES: String(thresholdBytes),
    MAX_BUFFER_BYTES: String(
      Math.min(512 * 1024 * 1024, Math.max(4 * thresholdBytes, thresholdBytes + 32 * 1024 * 1024)),
    ),
    // Long, so a buffer fills to the threshold as one generation; the loadtest flushes what is
    // left at the end itself (flushNow).
    FLUSH_INTERVAL: '10m',
  };
  start(process.execPath, [join(REPO_ROOT, 'apps/ingest/dist/main.js')], {
    ...common,
    // Its own stack on loopback; the loadtest's clients present no key.
    ALLOW_ANONYMOUS_WRITES: 'true',
    PORT: String(ingestPort),
  });
  start(process.execPath, [join(REPO_ROOT, 'apps/flusher/dist/main.js')], {
    ...common,
    ...credentials,
    PORT: String(flusherPort),
    S3_BUCKET: bucket,
    S3_ENDPOINT: s3Endpoint,
    S3_FORCE_PATH_STYLE: 'true',
  });
  const url = `http://127.0.0.1:${ingestPort}`;
  await until('ingest', answers(`${url}/readyz`));
  await until('flusher', answers(`http://127.0.0.1:${flusherPort}/readyz`));
  log(
    `own stack in ${dir}: ingest ${url}, redis ${redisUrl}, s3 ${s3Endpoint} (threshold ${thresholdBytes} bytes)`,
  );

  return {
    url,
    redisUrl,
    s3Endpoint,
    bucket,
    accessKey: credentials.AWS_ACCESS_KEY_ID,
    secretKey: credentials.AWS_SECRET_ACCESS_KEY,
    async stop() {
      for (const child of children.reverse()) {
        child.kill('SIGTERM');
        if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
