import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { TcpProxy } from '@spool/testkit';
import { freePort, REPO_ROOT, redisServerArgs, s3StandinMain, until } from '../processes.js';
import { ManagedProcess } from './managed-process.js';
import { S3FaultProxy } from './s3-fault-proxy.js';

export interface ChaosStack {
  redisUrl: string;
  redis: ManagedProcess;
  ingest: ManagedProcess[];
  ingestUrls: string[];
  flushers: ManagedProcess[];
  s3Proxy: S3FaultProxy;
  /** Between the flushers and Redis. */
  flusherRedisProxy: TcpProxy;
  /** Between the ingests and Redis. */
  ingestRedisProxy: TcpProxy;
  bucket: string;
  /** Straight to the S3 server, past the fault proxy: for counting what landed. */
  s3Client: S3Client;
  waitReady(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The real processes — 2 ingest, 2 flusher, redis-server with AOF, s3rver — with fault points:
 * an HTTP fault proxy before S3, TCP proxies between the flushers and Redis and between the
 * ingests and Redis.
 */
export async function startChaosStack(fsync: 'always' | 'everysec'): Promise<ChaosStack> {
  const dir = mkdtempSync(join(tmpdir(), 'spool-chaos-'));
  const redisPort = await freePort();
  const s3Port = await freePort();
  const redis = new ManagedProcess('redis', 'redis-server', redisServerArgs(redisPort, dir, fsync));
  redis.start();
  const bucket = 'chaos';
  const s3 = new ManagedProcess('s3rver', process.execPath, [s3StandinMain(), 'server', join(dir, 's3')], {
    MINIO_ROOT_USER: 'spool',
    MINIO_ROOT_PASSWORD: 'spool-local-secret',
    S3_ADDRESS: '127.0.0.1',
    S3_PORT: String(s3Port),
    S3_BUCKETS: bucket,
  });
  s3.start();
  const s3Proxy = await S3FaultProxy.start(s3Port);
  const flusherRedisProxy = await TcpProxy.start('127.0.0.1', redisPort);
  const ingestRedisProxy = await TcpProxy.start('127.0.0.1', redisPort);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const common = {
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    // Generations of up to 32 MiB, which with the load's random padding (about 2.8:1) are
    // multipart uploads of 5 MiB parts: a flusher killed mid-upload leaves one open.
    FLUSH_THRESHOLD_BYTES: '32MiB',
    MAX_BUFFER_BYTES: '256MiB',
    FLUSH_INTERVAL: '5s',
  };
  const ingestPorts = [await freePort(), await freePort()];
  const ingest = ingestPorts.map(
    (port, i) =>
      new ManagedProcess(`ingest-${i + 1}`, process.execPath, [join(REPO_ROOT, 'apps/ingest/dist/main.js')], {
        ...common,
        // Its own stack on loopback; the load's clients present no key.
        ALLOW_ANONYMOUS_WRITES: 'true',
        REDIS_URL: ingestRedisProxy.url('redis'),
        PORT: String(port),
      }),
  );
  const flusherPorts = [await freePort(), await freePort()];
  const flushers = flusherPorts.map(
    (port, i) =>
      new ManagedProcess(
        `flusher-${i + 1}`,
        process.execPath,
        [join(REPO_ROOT, 'apps/flusher/dist/main.js')],
        {
          ...common,
          REDIS_URL: flusherRedisProxy.url('redis'),
          PORT: String(port),
          S3_BUCKET: bucket,
          S3_ENDPOINT: `http://127.0.0.1:${s3Proxy.port}`,
          S3_FORCE_PATH_STYLE: 'true',
          AWS_ACCESS_KEY_ID: 'spool',
          AWS_SECRET_ACCESS_KEY: 'spool-local-secret',
          FLUSH_RETRY_BASE: '200ms',
          FLUSH_RETRY_MAX: '2s',
          FLUSH_LOCK_DURATION: '3s',
          S3_PART_SIZE: '5MiB',
        },
      ),
  );
  const s3Client = new S3Client({
    endpoint: `http://127.0.0.1:${s3Port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'spool', secretAccessKey: 'spool-local-secret' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  const ingestUrls = ingestPorts.map((port) => `http://127.0.0.1:${port}`);
  const waitReady = async () => {
    await until('s3rver', async () => (await fetch(`http://127.0.0.1:${s3Port}/`)).status < 500);
    for (const url of ingestUrls) await until(url, async () => (await fetch(`${url}/readyz`)).ok);
    for (const port of flusherPorts)
      await until(`flusher ${port}`, async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok);
  };
  await new Promise((resolve) => setTimeout(resolve, 300)); // redis-server binds
  for (const process of [...ingest, ...flushers]) process.start();
  await waitReady();
  return {
    redisUrl,
    redis,
    ingest,
    ingestUrls,
    flushers,
    s3Proxy,
    flusherRedisProxy,
    ingestRedisProxy,
    bucket,
    s3Client,
    waitReady,
    async stop() {
      s3Client.destroy();
      for (const process of [...ingest, ...flushers]) await process.stop();
      await s3Proxy.close();
      await flusherRedisProxy.close();
      await ingestRedisProxy.close();
      await s3.stop();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
