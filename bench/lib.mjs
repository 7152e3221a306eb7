// Shared pieces of the benchmarks: Spool's local stack on 127.0.0.1 (@spool/testkit/local-stack),
// the baselines' processes, autocannon runs, and the results file. Every scenario runs beside its baseline in
// the same run on the same machine: compare ratios, never absolute numbers across machines.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  addFlushJob,
  appendToBuffer,
  defineSpoolCommands,
  FLUSH_QUEUE,
  queuePrefix,
  registerStream,
  streamKeys,
  streamRegistryKey,
} from '@spool/shared';
import { LocalStack } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';
import { until } from '@spool/testkit/wait';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
const children = new Set();
const dirs = new Set();
const stacks = new Set();

export { freePort, until };

export function tempDir(name) {
  const dir = mkdtempSync(join(tmpdir(), `spool-bench-${name}-`));
  dirs.add(dir);
  return dir;
}

/** A baseline's process (bare Fastify, the BITCOUNT handler): not Spool's, so not the local stack. */
export function start(command, args, env = {}) {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Spool's local stack for one scenario: Redis without AOF (the benchmarks measure Spool, not the
 * disk; `fsync: 'everysec'` for the shipped AOF) and, when asked, the S3 stand-in; with `cluster` (LocalStack's cluster options), a Redis
 * Cluster instead of one server. `redis` is a client of it; `url`, `port`: its (first) server.
 */
export async function startStack({ s3 = false, cluster, fsync = 'off' } = {}) {
  const stack = await LocalStack.start({
    redis: { fsync, ...(cluster ? { cluster } : {}) },
    s3: s3 ? { bucket: 'bench' } : false,
    // The environment's settings reach the services (`LOG_LEVEL=info` with SPOOL_BENCH_LOGS, below).
    inheritSettings: true,
    // SPOOL_BENCH_LOGS=1: Spool's services' log lines on stderr, with the time they were printed
    // (with LOG_LEVEL=info, a flush's steps: read, upload, release).
    ...(process.env.SPOOL_BENCH_LOGS
      ? { output: (name, line) => process.stderr.write(`${performance.now().toFixed(0)} ${name} ${line}\n`) }
      : {}),
  });
  stacks.add(stack);
  const redis = cluster ? stack.connectRedis() : new Redis(stack.redisUrl);
  redis.on('error', () => {});
  return { stack, redis, url: stack.redisUrl, port: Number(new URL(stack.redisUrl).port) };
}

/**
 * Stands in for the flusher while a scenario loads the ingest: every 100 ms, a stream's active
 * buffer past FLUSH_THRESHOLD_BYTES's default (32 MiB) is dropped, as the flusher's seal would
 * take it out of service. The scenarios run no flusher (compressing would take the cores the
 * ingest is measured on), and without this, buffers would grow to hundreds of MiB, where Redis's
 * APPEND costs something else: it grows a string 1 MiB at a time and each growth may copy the
 * string, until, past about 128 MiB, the allocator grows it in place
 * (bench/analysis/redis-append-costs.mjs: 1.3–2.4 ms per 430 KiB append below 64 MiB, 0.2 ms
 * past 128 MiB). This keeps the ingest in the regime a deployment with the default runs in.
 * Returns the function that stops it.
 */
export function drainBuffers(bench, streams, { aboveBytes = 32 * 2 ** 20, everyMs = 100 } = {}) {
  const keys = streams.map((stream) => streamKeys(stream).buf);
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      for (const key of keys) if ((await bench.redis.strlen(key)) > aboveBytes) await bench.redis.unlink(key);
    } finally {
      busy = false;
    }
  }, everyMs);
  return () => clearInterval(timer);
}

/** The bare Fastify baseline (baselines/bare-fastify.mjs); resolves with its URL once it answers. */
export async function startBareFastify() {
  return (await startBareFastifyProcess()).url;
}

/** The same, with its process id (for its CPU, in bench/analysis). */
export async function startBareFastifyProcess() {
  const port = await freePort();
  const child = start(process.execPath, [join(ROOT, 'bench/baselines/bare-fastify.mjs')], {
    PORT: String(port),
  });
  const url = `http://127.0.0.1:${port}`;
  await until('bare fastify', async () => (await fetch(url)).status > 0);
  return { url, pid: child.pid };
}

/** An ingest on the stack, its buffers far from flushing; resolves with its URL once ready. */
export async function startIngest(bench, env = {}) {
  // SPOOL_BENCH_INGEST=<another build's main.js> compares two builds on the same machine.
  const ingest = await bench.stack.addIngest(
    { FLUSH_THRESHOLD_BYTES: '480MiB', MAX_BUFFER_BYTES: '512MiB', ...env },
    { main: process.env.SPOOL_BENCH_INGEST },
  );
  return ingest.url;
}

/** A flusher on the stack; resolves with its process (for its RSS) once ready. */
export async function startFlusher(bench, env = {}) {
  // SPOOL_BENCH_FLUSHER=<another build's main.js> compares two builds on the same machine.
  const logs = process.env.SPOOL_BENCH_LOGS ? { LOG_LEVEL: 'info' } : {};
  const flusher = await bench.stack.addFlusher(
    { ...logs, ...env },
    { main: process.env.SPOOL_BENCH_FLUSHER },
  );
  return flusher.process;
}

/**
 * autocannon for `seconds` against a POST body (or a new body per request from `makeBody(n)`);
 * returns req/s and latency percentiles (ms).
 */
export async function load(
  url,
  { body, makeBody, connections = 100, seconds = 10, contentType = 'application/json', headers = {} } = {},
) {
  let sent = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': contentType, ...headers },
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
    /** Answers by status code, e.g. `{ "202": { count } }`. */
    statusCodes: result.statusCodeStats,
  };
}

/**
 * Loads each side in turn, `rounds` times (A, B, A, B …), so every side shares the machine's
 * drift: this machine's throughput moves by a tenth between minutes, more than most differences
 * the scenarios look for. A side is `{ url, body }` or `{ url, makeBody: (round) => (n) => body }`
 * (a fresh generator per round, so ids never repeat), with `contentType` when not JSON, and the
 * `stream` it writes to (a Spool side), whose buffer drainBuffers keeps to a deployment's size
 * while it loads (on `side.bench`, when the side runs on a stack of its own). Returns each side's mean req/s and worst latencies; throws if any request
 * failed, since a ratio of refused requests measures nothing.
 */
export async function alternate(bench, sides, { rounds = 2, seconds = 5 } = {}) {
  const totals = sides.map(() => ({ requestsPerSecond: 0, p50: 0, p99: 0, errors: 0, non2xx: 0 }));
  for (let round = 0; round < rounds; round++) {
    for (const [index, side] of sides.entries()) {
      const stopDraining = side.stream ? drainBuffers(side.bench ?? bench, [side.stream]) : undefined;
      const result = await load(side.url, {
        body: side.body,
        makeBody: side.makeBody?.(`${round}`),
        contentType: side.contentType,
        seconds,
      }).finally(stopDraining);
      if (result.errors + result.non2xx > 0) {
        throw new Error(
          `${side.url}: ${result.errors} errors, ${result.non2xx} answers other than 2xx (${JSON.stringify(result.statusCodes)})`,
        );
      }
      const total = totals[index];
      total.requestsPerSecond += result.requestsPerSecond / rounds;
      total.p50 = Math.max(total.p50, result.p50);
      total.p99 = Math.max(total.p99, result.p99);
    }
  }
  return totals.map((total) => ({ ...total, requestsPerSecond: Math.round(total.requestsPerSecond) }));
}

/** User + system CPU seconds a process has used so far (/proc/<pid>/stat, in ticks of 1/100 s). */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function rssMiB(pid) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

export async function stopAll() {
  for (const stack of stacks) await stack.stop();
  stacks.clear();
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

/**
 * Request bodies whose every event carries a messageId of its own, never repeated across calls:
 * `single(tag)` and `batch(tag)` (100 events) each return `(n) => body` for autocannon.
 */
export function uniqueIdBodies() {
  const run = Date.now().toString(36);
  const event = (id) => `{"messageId":"${id}","event":"page","userId":"u-123","path":"/pricing"}`;
  return {
    single: (tag) => (n) => event(`${run}-${tag}-${n}`),
    batch: (tag) => (n) =>
      `[${Array.from({ length: 100 }, (_, i) => event(`${run}-${tag}-${n}-${i}`)).join(',')}]`,
  };
}

const MiB = 1024 * 1024;

/**
 * `count` streams `s-0`, `s-1`, … in `namespace`, each registered and holding one small event,
 * its buffer begun `sinceMs` (Redis's clock): what the sweep and the status page read of many
 * quiet streams. Sent 500 streams at a time.
 */
export async function registerSmallStreams(redis, namespace, count, sinceMs) {
  defineSpoolCommands(redis);
  for (let first = 0; first < count; first += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - first) }, async (_, i) => {
        const stream = `s-${first + i}`;
        await registerStream(redis, streamRegistryKey(namespace), stream);
        await appendToBuffer(redis, streamKeys(stream, namespace), {
          chunk: '{"e":1}\n',
          eventCount: 1,
          maxBytes: 1e9,
          dedupeWindowMs: 0,
          clientIds: { ids: [], lines: [] },
        });
        await redis.set(streamKeys(stream, namespace).since, sinceMs);
      }),
    );
  }
}

/**
 * A sealed-size buffer as the ingest leaves it (its keys from the one module that builds them),
 * filled with APPEND directly: hundreds of MiB through HTTP would take longer than the flush it
 * is for. Its events carry random padding, so they compress about as real events do (3-5:1; a
 * repeated character compresses 50:1 and measures only the reading). Resolves with its length
 * and line count.
 */
export async function fillStreamBuffer(bench, stream, bytes) {
  const keys = streamKeys(stream);
  let lines = 0;
  for (let written = 0; written < bytes; ) {
    const chunk = Array.from({ length: 4 * 1024 }, (_, i) => realisticLine(lines + i)).join('');
    await bench.redis.append(keys.buf, chunk);
    written += Buffer.byteLength(chunk);
    lines += 4 * 1024;
  }
  await bench.redis.set(keys.since, String(Date.now()));
  await bench.redis.hset(keys.stats, 'accepted', String(lines));
  defineSpoolCommands(bench.redis);
  await registerStream(bench.redis, streamRegistryKey(), stream);
  return { length: await bench.redis.strlen(keys.buf), lines };
}

/** A stored event of about 300 bytes with a random id and token, as analytics events carry. */
function realisticLine(index) {
  const id = randomBytes(16).toString('hex');
  const token = randomBytes(24).toString('base64');
  return `${JSON.stringify({
    event: ['page', 'track', 'identify'][index % 3],
    userId: `u-${index % 5000}`,
    properties: { path: `/p/${index % 300}`, plan: index % 2 ? 'pro' : 'free', amount: index % 97, token },
    context: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120', locale: 'en-US' },
    receivedAt: new Date(1_796_000_000_000 + index * 37).toISOString(),
    messageId: id,
  })}\n`;
}

/**
 * A baseline: the stream's buffer, written once to a file (not timed), then compressed by
 * `command` reading that file (`args` end with it), its output to /dev/null: the machine's
 * compression limit, with no Redis to read. Resolves with its seconds.
 */
export async function compressBufferWith(bench, stream, length, command, args) {
  const file = join(tempDir('baseline'), 'buffer.ndjson');
  const out = createWriteStream(file);
  for (let start = 0; start < length; start += 4 * MiB) {
    const piece = await bench.redis.getrangeBuffer(
      streamKeys(stream).buf,
      start,
      Math.min(start + 4 * MiB, length) - 1,
    );
    if (!out.write(piece)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const started = performance.now();
  const child = spawn(command, [...args, file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`${command} exited with ${code}`);
  const seconds = (performance.now() - started) / 1000;
  rmSync(file);
  return seconds;
}

/**
 * Flushes the stream's generation 0 with a flusher of its own (configured by `env`) and resolves
 * with the seconds it took and the flusher's RSS, idle and at its peak (sampled every 20 ms).
 */
export async function flushWithFlusher(bench, stream, lines, env = {}) {
  // Interval and threshold past the buffer: the flusher's first sweep must not start this flush
  // before the job below, or "idle" RSS and the flush time would be taken mid-flush.
  const flusher = await startFlusher(bench, {
    FLUSH_INTERVAL: '10m',
    FLUSH_THRESHOLD_BYTES: '480MiB',
    MAX_BUFFER_BYTES: '512MiB',
    ...env,
  });
  const idleRss = rssMiB(flusher.pid);
  let peakRss = idleRss;
  // SPOOL_BENCH_RSS_TRACE=<file>: every sample, as "milliseconds RSS-MiB" lines, to see which
  // part of a flush holds the peak.
  const trace = process.env.SPOOL_BENCH_RSS_TRACE ? [] : undefined;
  const sampler = setInterval(() => {
    const rss = rssMiB(flusher.pid);
    peakRss = Math.max(peakRss, rss);
    trace?.push(`${Math.round(performance.now() - started)} ${rss.toFixed(1)}`);
  }, 20);
  const queue = new Queue(FLUSH_QUEUE, { connection: bench.redis, prefix: queuePrefix() });
  const started = performance.now();
  try {
    await addFlushJob(queue, stream, 0);
    await until(
      'the flush',
      async () => (await bench.redis.hget(streamKeys(stream).stats, 'landed')) === String(lines),
      600_000,
    );
  } finally {
    clearInterval(sampler);
    await queue.close();
    if (trace) writeFileSync(process.env.SPOOL_BENCH_RSS_TRACE, `${trace.join('\n')}\n`);
  }
  return { seconds: (performance.now() - started) / 1000, idleRss, peakRss };
}

/**
 * A flush scenario (d, j): fills 256 MiB, times each baseline command on the same bytes (the
 * first is the target's), flushes them in `format`, and tabulates. Target: the flusher at
 * `target` x the first baseline's throughput, with peak RSS under 200 MiB.
 */
export async function flushScenario({ id, name, format, baselines, target = 0.8, bytes = 256 * MiB }) {
  const bench = await startStack({ s3: true });
  const stream = `bench-${id}`;
  const { length, lines } = await fillStreamBuffer(bench, stream, bytes);
  const timed = [];
  for (const baseline of baselines) {
    timed.push({
      ...baseline,
      seconds: await compressBufferWith(bench, stream, length, baseline.command, baseline.args),
    });
  }
  const flush = await flushWithFlusher(bench, stream, lines, { OUTPUT_FORMAT: format });
  bench.redis.disconnect();

  const mbps = (seconds) => length / MiB / seconds;
  const ratio = mbps(flush.seconds) / mbps(timed[0].seconds);
  return {
    name,
    target: `flusher >= ${target} x ${timed[0].label}, peak RSS < 200 MiB`,
    ratio,
    met: ratio >= target && flush.peakRss < 200,
    bytes: length,
    baselines: timed.map(({ label, seconds }) => ({ label, seconds })),
    flushSeconds: flush.seconds,
    baselineRss: flush.idleRss,
    peakRss: flush.peakRss,
    markdown: markdown(
      `${id}. Flushing a ${Math.round(length / MiB)} MiB buffer as ${format}`,
      ['', 'seconds', 'MiB/s', 'RSS MiB'],
      [
        ...timed.map(({ label, seconds }) => [
          `${label} of the same bytes (from a file)`,
          seconds.toFixed(2),
          mbps(seconds).toFixed(1),
          '',
        ]),
        [
          `spool flusher to S3 (seal, summary, ${format}, upload, release)`,
          flush.seconds.toFixed(2),
          mbps(flush.seconds).toFixed(1),
          `${flush.idleRss.toFixed(0)} idle, ${flush.peakRss.toFixed(0)} peak`,
        ],
        ...timed.map(({ label, seconds }, index) => [
          `ratio to ${label}${index === 0 ? ` (target >= ${target}; peak RSS < 200 MiB)` : ''}`,
          '',
          (mbps(flush.seconds) / mbps(seconds)).toFixed(2),
          '',
        ]),
      ],
    ),
  };
}
