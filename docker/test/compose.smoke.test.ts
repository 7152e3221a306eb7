import { randomBytes } from 'node:crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { listObjectKeys, readSpoolObject, waitFor } from '@spool/testkit';
import { LOCAL_S3_CREDENTIALS } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';
import autocannon from 'autocannon';
import { ComposeStack, docker } from './compose-stack.js';

/**
 * The compose stack as users run it: 2 ingest and 2 flusher replicas, Redis, the S3-compatible
 * store, built images. Needs `make images` first (make test does it).
 */
const PROMETHEUS_PORT = await freePort();
const stack = new ComposeStack(`spoolsmoke${randomBytes(3).toString('hex')}`, {
  SPOOL_PROMETHEUS_PORT: String(PROMETHEUS_PORT),
  SPOOL_REDIS_IMAGE: process.env.SPOOL_TEST_REDIS_IMAGE ?? 'redis:7.4',
  SPOOL_S3_IMAGE: process.env.SPOOL_TEST_S3_IMAGE ?? 'minio/minio:latest',
  SPOOL_S3_ACCESS_KEY: LOCAL_S3_CREDENTIALS.accessKeyId,
  SPOOL_S3_SECRET_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey,
  // Loopback only, and the load presents no key: open, and said so.
  ALLOW_ANONYMOUS_WRITES: 'true',
  FLUSH_THRESHOLD_BYTES: '24MiB',
  FLUSH_INTERVAL: '2s',
  FLUSH_LOCK_DURATION: '5s',
  OUTPUT_FORMAT: 'parquetsmoke:parquet,*:ndjson.gz',
  LOG_LEVEL: 'info',
});
const BUCKET = 'spool';
let ingestUrls: string[];
let s3: S3Client;

beforeAll(async () => {
  await stack.up({ ingest: 2, flusher: 2 });
  ingestUrls = [await stack.url('ingest', 8080, 1), await stack.url('ingest', 8080, 2)];
  s3 = new S3Client({
    endpoint: await stack.url('s3', 9000),
    region: 'us-east-1',
    forcePathStyle: true,
    // A copy: the AWS SDK writes to the credentials object it is given.
    credentials: { ...LOCAL_S3_CREDENTIALS },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  for (const url of ingestUrls) {
    await waitFor(
      async () => ((await fetch(`${url}/readyz`).catch(() => undefined))?.ok ? true : undefined),
      60_000,
      url,
    );
  }
}, 180_000);

afterAll(async () => {
  s3?.destroy();
  await stack.down();
}, 60_000);

/** Index of the first log line (JSON, one per line) at or after `from` with this message (and stream), or -1. */
function lineIndex(logs: string, msg: string, stream?: string, from = 0): number {
  const lines = logs.split('\n');
  for (let i = Math.max(from, 0); i < lines.length; i += 1) {
    const line = lines[i] as string;
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; stream?: string };
    if (entry.msg === msg && (stream === undefined || entry.stream === stream)) return i;
  }
  return -1;
}

/** Every messageId in the stream's objects, with how often each was found. */
async function landedIds(stream: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const key of await listObjectKeys(s3, BUCKET, `stream=${stream}/`)) {
    for (const line of (await readSpoolObject(s3, BUCKET, key)).lines) {
      const id = JSON.parse(line).messageId as string;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

async function waitForLanded(
  stream: string,
  expected: number,
  timeoutMs: number,
): Promise<Map<string, number>> {
  return waitFor(
    async () => {
      const stats = await stack.redis('hget', `spool:{${stream}}:stats`, 'landed');
      return stats === String(expected) ? landedIds(stream) : undefined;
    },
    timeoutMs,
    `${expected} events of ${stream} to land`,
  );
}

describe('docker-compose stack with 2 ingest and 2 flusher replicas', () => {
  it('takes 5,000 requests at concurrency 50 and lands every event in S3 exactly once', async () => {
    const stream = 'smoke';
    let sequence = 0;
    const load = (url: string) =>
      autocannon({
        url,
        connections: 25,
        amount: 2_500,
        requests: [
          {
            method: 'POST',
            path: `/v1/streams/${stream}/events`,
            headers: { 'content-type': 'application/json' },
            setupRequest: (request) => ({
              ...request,
              body: JSON.stringify({ messageId: `m-${sequence++}`, event: 'page', path: '/pricing' }),
            }),
          },
        ],
      });
    const results = await Promise.all(ingestUrls.map(load));

    expect(results.map((result) => result.non2xx + result.errors + result.timeouts)).toEqual([0, 0]);
    expect(results.reduce((sum, result) => sum + result['2xx'], 0)).toBe(5_000);
    const landed = await waitForLanded(stream, 5_000, 60_000);
    expect(landed.size).toBe(5_000);
    expect([...landed.values()].every((count) => count === 1)).toBe(true);
  });

  it('writes Parquet from the built image: DuckDB loads in it, and the object lands whole', async () => {
    const stream = 'parquetsmoke';
    const events = Array.from({ length: 100 }, (_, n) => ({ messageId: `p-${n}`, event: 'page', n }));
    const answer = await fetch(`${ingestUrls[0]}/v1/streams/${stream}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(events),
    });
    expect(answer.status).toBe(202);
    await waitFor(
      async () =>
        (await stack.redis('hget', `spool:{${stream}}:stats`, 'landed')) === '100' ? true : undefined,
      60_000,
      `the ${stream} events to land`,
    );
    const [key, ...more] = await listObjectKeys(s3, BUCKET, `stream=${stream}/`);
    expect(more).toEqual([]);
    expect(key).toMatch(/\.parquet$/);
    const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const bytes = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
    // A Parquet file starts and ends with its magic number.
    expect([bytes.subarray(0, 4).toString(), bytes.subarray(-4).toString()]).toEqual(['PAR1', 'PAR1']);
    expect(object.Metadata?.['spool-events']).toBe('100');
  });

  it('loses nothing when a flusher is stopped (docker stop) in the middle of a flush', async () => {
    // The store is paused (docker pause) while the generation flushes: the stop lands mid-upload
    // by construction. A race with the upload missed it in each of four tries on a loaded runner.
    const stream = 'sigterm';
    const [store] = await stack.containers('s3');
    await docker('pause', store as string);
    let flushing: string | undefined;
    let stopped: Promise<string> | undefined;
    const ids: string[] = [];
    try {
      // About 26 MiB, past the 24 MiB threshold: one big generation.
      for (let request = 0; request < 32; request += 1) {
        const events = Array.from({ length: 30 }, () => {
          const messageId = `s-${ids.length}`;
          ids.push(messageId);
          return { messageId, data: randomBytes(20_000).toString('base64') };
        });
        const response = await fetch(`${ingestUrls[request % 2]}/v1/streams/${stream}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(events),
        });
        expect(response.status).toBe(202);
      }
      flushing = await waitFor(
        async () => {
          for (const id of await stack.containers('flusher')) {
            if (lineIndex(await docker('logs', id), 'flushing generation', stream) !== -1) return id;
          }
          return undefined;
        },
        30_000,
        'a flusher to start flushing',
      );
      const container = flushing;
      stopped = docker('stop', '--time', '30', container);
      await waitFor(
        async () => {
          const logs = await docker('logs', container);
          const from = lineIndex(logs, 'flushing generation', stream);
          return lineIndex(logs, 'shutting down', undefined, from) !== -1 ? true : undefined;
        },
        20_000,
        'the flusher to begin shutting down',
      );
    } finally {
      await docker('unpause', store as string);
    }
    await stopped;
    if (!flushing) throw new Error('no flusher flushed');

    const logs = await docker('logs', flushing);
    expect(await docker('inspect', '-f', '{{.State.ExitCode}}', flushing)).toBe('0\n');
    // The shutdown began after the flush started and before its upload ended, and the upload
    // still ended: the flusher finished the job in hand before exiting.
    const flushingAt = lineIndex(logs, 'flushing generation', stream);
    const shutdownAt = lineIndex(logs, 'shutting down', undefined, flushingAt);
    const uploadedAt = lineIndex(logs, 'generation uploaded', stream, flushingAt);
    expect(flushingAt).toBeGreaterThan(-1);
    expect(shutdownAt).toBeGreaterThan(flushingAt);
    expect(uploadedAt).toBeGreaterThan(shutdownAt);

    const landed = await waitForLanded(stream, ids.length, 60_000);
    expect([...landed.keys()].sort()).toEqual([...ids].sort());
    expect([...landed.values()].every((count) => count === 1)).toBe(true);
    await docker('start', flushing);
  });

  it('runs Prometheus in the observability profile: every replica scraped, the alert rules loaded', async () => {
    // Prometheus alone (make test builds a local one where none can be pulled; Grafana has none).
    await stack.compose('--profile', 'observability', 'up', '-d', '--no-deps', 'prometheus');
    const prometheus = `http://127.0.0.1:${PROMETHEUS_PORT}`;
    const api = async <T>(path: string): Promise<T | undefined> => {
      const answer = await fetch(`${prometheus}${path}`).catch(() => undefined);
      return answer?.ok ? ((await answer.json()) as { data: T }).data : undefined;
    };
    type Targets = { activeTargets: Array<{ labels: { job: string }; health: string }> };
    const targets = await waitFor(
      async () => {
        const data = await api<Targets>('/api/v1/targets');
        const up = data?.activeTargets.filter((target) => target.health === 'up') ?? [];
        return up.length === 4 ? data : undefined;
      },
      60_000,
      'the 2 ingests and 2 flushers scraped',
    );
    expect(targets.activeTargets.map((target) => target.labels.job).sort()).toEqual([
      'spool-flusher',
      'spool-flusher',
      'spool-ingest',
      'spool-ingest',
    ]);
    const rules = await api<{
      groups: Array<{ name: string; rules: Array<{ name: string; health: string }> }>;
    }>('/api/v1/rules');
    const loaded = rules?.groups.flatMap((group) => group.rules) ?? [];
    expect(loaded.map((rule) => rule.name).sort()).toEqual([
      'SpoolBufferNearlyFull',
      'SpoolCountersLost',
      'SpoolFlushFailing',
      'SpoolFlushStuck',
      'SpoolFlushWorkerReplaced',
      'SpoolIngestAnswering503',
      'SpoolIngestSeesNoFlusher',
      'SpoolKeyFileRefused',
      'SpoolLandingBehind',
      'SpoolRedisEvicting',
      'SpoolRedisLostData',
      'SpoolSweepFailing',
      'SpoolSweepNotRunning',
    ]);
    // The metrics the rules read are there: the load above was scraped.
    const series = await waitFor(
      async () => {
        const data = await api<{ result: unknown[] }>('/api/v1/query?query=spool_ingest_requests_total');
        return data && data.result.length > 0 ? data.result : undefined;
      },
      30_000,
      'spool_ingest_requests_total in Prometheus',
    );
    expect(series.length).toBeGreaterThan(0);
  }, 120_000);
});
