// Shared pieces of the benchmarks: processes on 127.0.0.1 (redis-server, s3rver, the built ingest
// and flusher), autocannon runs, and the results file. Every scenario runs beside its baseline in
// the same run on the same machine: compare ratios, never absolute numbers across machines.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
const children = new Set();
const dirs = new Set();

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function tempDir(name) {
  const dir = mkdtempSync(join(tmpdir(), `spool-bench-${name}-`));
  dirs.add(dir);
  return dir;
}

export function start(command, args, env = {}) {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export async function until(what, check, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startRedis() {
  const port = await freePort();
  start('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    tempDir('redis'),
  ]);
  const { Redis } = await import('ioredis');
  // Refused until redis-server listens: ioredis reconnects every 50 ms and PING waits for that.
  // (Calling connect() again instead fails for ever once a first attempt was refused.)
  const redis = new Redis(`redis://127.0.0.1:${port}`, { retryStrategy: () => 50 });
  redis.on('error', () => {});
  await until('redis', async () => (await redis.ping()) === 'PONG');
  return { url: `redis://127.0.0.1:${port}`, port, redis };
}

export async function startS3() {
  const port = await freePort();
  const standin = join(ROOT, 'docker/test-images/s3');
  if (!existsSync(join(standin, 'node_modules')))
    throw new Error('run make dev or make test once first (s3rver stand-in)');
  start(process.execPath, [join(standin, 'serve.mjs'), 'server', tempDir('s3')], {
    MINIO_ROOT_USER: 'spool',
    MINIO_ROOT_PASSWORD: 'spool-local-secret',
    S3_ADDRESS: '127.0.0.1',
    S3_PORT: String(port),
    S3_BUCKETS: 'bench',
  });
  const url = `http://127.0.0.1:${port}`;
  await until('s3rver', async () => (await fetch(url)).status < 500);
  return {
    url,
    bucket: 'bench',
    credentials: { AWS_ACCESS_KEY_ID: 'spool', AWS_SECRET_ACCESS_KEY: 'spool-local-secret' },
  };
}

export async function startIngest(redisUrl, env = {}) {
  const port = await freePort();
  // SPOOL_BENCH_INGEST=<another build's main.js> compares two builds on the same machine.
  const main = process.env.SPOOL_BENCH_INGEST ?? join(ROOT, 'apps/ingest/dist/main.js');
  start(process.execPath, [main], {
    REDIS_URL: redisUrl,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    // Its own processes on loopback; the load presents no key.
    ALLOW_ANONYMOUS_WRITES: 'true',
    FLUSH_THRESHOLD_BYTES: '480MiB',
    MAX_BUFFER_BYTES: '512MiB',
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  await until('ingest', async () => (await fetch(`${url}/readyz`)).ok);
  return url;
}

/** The built flusher against `redisUrl` and the s3rver from startS3(); resolves once it is ready. */
export async function startFlusher(redisUrl, s3, env = {}) {
  const port = await freePort();
  // SPOOL_BENCH_FLUSHER=<another build's main.js> compares two builds on the same machine.
  const main = process.env.SPOOL_BENCH_FLUSHER ?? join(ROOT, 'apps/flusher/dist/main.js');
  const child = start(process.execPath, [main], {
    REDIS_URL: redisUrl,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    S3_BUCKET: s3.bucket,
    S3_ENDPOINT: s3.url,
    S3_FORCE_PATH_STYLE: 'true',
    ...s3.credentials,
    ...env,
  });
  await until('flusher', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok);
  return child;
}

/**
 * autocannon for `seconds` against a POST body (or a new body per request from `makeBody(n)`);
 * returns req/s and latency percentiles (ms).
 */
export async function load(
  url,
  { body, makeBody, connections = 100, seconds = 10, contentType = 'application/json' },
) {
  let sent = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
    ...(makeBody
      ? { requests: [{ setupRequest: (request) => ({ ...request, body: makeBody(sent++) }) }] }
      : {}),
    connections,
    duration: seconds,
  });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

export function rssMiB(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

export async function stopAll() {
  for (const child of children) child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 300));
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/** Prints a markdown table and returns it. */
export function markdown(title, header, rows) {
  const lines = [
    `### ${title}`,
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
  ];
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
  const text = `${lines.join('\n')}\n`;
  process.stdout.write(`\n${text}`);
  return text;
}

export function writeResults(results) {
  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(dir, `${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, `${stamp}.md`), results.markdown.join('\n'));
  return join(dir, `${stamp}.json`);
}

/** A line of NDJSON as the ingest stores it, about `bytes` long. */
export function storedLine(index, bytes = 146) {
  const head = `{"event":"page","userId":"u-${index % 1000}","receivedAt":"2026-11-27T00:00:00.000Z","messageId":"m-${index}","pad":"`;
  return `${head}${'x'.repeat(Math.max(0, bytes - head.length - 3))}"}\n`;
}
