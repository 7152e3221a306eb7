import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import {
  createTestRedis,
  createTestS3,
  flusherTestEnv,
  ingestTestEnv,
  listObjectKeys,
  randomName,
  readSpoolObject,
  type ServiceProcess,
  SPOOL_MAINS,
  spawnService,
  TcpProxy,
  testServices,
  waitFor,
  waitUntilLanded,
} from '@spool/testkit';

const services = testServices();
/** This file's own namespace: flushers of other test files never see its queue or streams. */
const NS = randomName('ns');
const redis = createTestRedis();
const s3 = createTestS3();
const prefix = `${randomName('outage')}/`;
let proxy: TcpProxy;
let ingest: ServiceProcess;
let flusher: ServiceProcess;

beforeAll(async () => {
  const endpoint = new URL(services.s3.endpoint);
  proxy = await TcpProxy.start(endpoint.hostname, Number(endpoint.port));
  ingest = await spawnService(
    SPOOL_MAINS.ingest,
    ingestTestEnv({
      REDIS_NAMESPACE: NS,
      FLUSH_THRESHOLD_BYTES: '16KiB',
      MAX_BUFFER_BYTES: '128KiB',
      MAX_BODY_BYTES: '32KiB',
      REDIS_COMMAND_TIMEOUT: '30s',
      LOG_LEVEL: 'warn',
    }),
  );
  flusher = await spawnService(
    SPOOL_MAINS.flusher,
    flusherTestEnv({
      REDIS_NAMESPACE: NS,
      S3_ENDPOINT: proxy.url('http'),
      S3_PREFIX: prefix,
      FLUSH_INTERVAL: '1s',
      FLUSH_RETRY_BASE: '100ms',
      FLUSH_RETRY_MAX: '500ms',
      S3_TIMEOUT: '1s',
      LOG_LEVEL: 'warn',
    }),
  );
});
afterAll(async () => {
  await flusher.stop();
  await ingest.stop();
  await proxy.close();
  await redis.quit();
  s3.destroy();
});

/** The flusher's count of failed flush attempts, over every stream. */
async function flushFailures(): Promise<number> {
  const text = await (await fetch(`${flusher.url}/metrics`)).text();
  return [...text.matchAll(/spool_flush_failures_total\{stream="[^"]+"\} (\d+)/g)].reduce(
    (sum, match) => sum + Number(match[1]),
    0,
  );
}

async function post(stream: string, messageId: string): Promise<number> {
  return (await postForCode(stream, messageId)).status;
}

/** The answer's status, and its code (a 503's says why: the buffer full, or Redis slow). */
async function postForCode(stream: string, messageId: string): Promise<{ status: number; code?: string }> {
  const response = await fetch(`${ingest.url}/v1/streams/${stream}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messageId, pad: 'p'.repeat(900) }),
  });
  const body = (await response.json().catch(() => ({}))) as { code?: string };
  return { status: response.status, code: body.code };
}

describe('while S3 is down', () => {
  it('keeps every buffer, retries, lets ingest fill up to MAX_BUFFER_BYTES, and lands everything once S3 is back', async () => {
    const stream = randomName('outage');
    const keys = streamKeys(stream, NS);
    proxy.cut();

    const accepted: string[] = [];
    let refused = 0;
    for (let i = 0, attempts = 0; refused < 5 && attempts < 1_000; attempts += 1) {
      const { status, code } = await postForCode(stream, `m${i}`);
      if (status === 503) await new Promise((resolve) => setTimeout(resolve, 100));
      if (status === 202) accepted.push(`m${i}`);
      else if (status === 503 && code === 'SPOOL_BUFFER_FULL') refused += 1;
      // Redis slow past REDIS_COMMAND_TIMEOUT, or reconnecting (a loaded runner): not the limit.
      // The same event again, as a client retries (its messageId keeps it once if it was stored).
      else if (status === 503) continue;
      else throw new Error(`unexpected status ${status}`);
      i += 1;
    }
    // About 128 KiB of ~1 KiB events: the limit held while generations piled up unsent.
    expect(refused).toBe(5);
    expect(accepted.length).toBeGreaterThan(60);
    expect(accepted.length).toBeLessThan(140);
    await waitFor(
      async () => ((await redis.scard(keys.pending)) >= 2 ? true : undefined),
      10_000,
      'sealed generations',
    );
    const failures = await waitFor(
      async () => {
        const text = await (await fetch(`${flusher.url}/metrics`)).text();
        const value = Number(/spool_flush_failures_total\{stream="[^"]+"\} (\d+)/.exec(text)?.[1] ?? 0);
        return value >= 3 ? value : undefined;
      },
      20_000,
      'retries',
    );
    expect(failures).toBeGreaterThanOrEqual(3);
    expect(await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=${stream}/`)).toEqual([]);
    expect(await redis.hget(keys.stats, 'landed')).toBeNull();

    proxy.restore();
    await waitUntilLanded(redis, [stream], { namespace: NS, timeoutMs: 30_000 });
    expect(await redis.hget(keys.stats, 'landed')).toBe(String(accepted.length));
    const landed: string[] = [];
    for (const key of await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=${stream}/`)) {
      const object = await readSpoolObject(s3, services.s3.bucket, key);
      landed.push(...object.lines.map((line) => JSON.parse(line).messageId as string));
    }
    expect(landed.sort()).toEqual([...accepted].sort());
    expect(await redis.smembers(keys.pending)).toEqual([]);
    expect(await post(stream, 'after')).toBe(202);
  }, 120_000); // its waits add up past Jest's 60 s on a loaded runner
});

describe('while S3 hangs (connections taken, nothing answered)', () => {
  it('fails each stuck attempt after S3_TIMEOUT and retries, instead of waiting for ever, then lands once', async () => {
    const stream = randomName('stall');
    const before = await flushFailures();
    proxy.blackhole();
    const accepted: string[] = [];
    for (let i = 0; i < 20; i += 1) {
      if ((await post(stream, `s${i}`)) === 202) accepted.push(`s${i}`);
    }
    expect(accepted).toHaveLength(20);
    // Without a timeout the first attempt would never end: no failure would ever be counted.
    await waitFor(
      async () => ((await flushFailures()) >= before + 2 ? true : undefined),
      30_000,
      'timed-out attempts',
    );
    expect(await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=${stream}/`)).toEqual([]);

    proxy.restore();
    await waitUntilLanded(redis, [stream], { namespace: NS, timeoutMs: 30_000 });
    const landed: string[] = [];
    for (const key of await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=${stream}/`)) {
      const object = await readSpoolObject(s3, services.s3.bucket, key);
      landed.push(...object.lines.map((line) => JSON.parse(line).messageId as string));
    }
    expect(landed.sort()).toEqual([...accepted].sort());
  }, 90_000);
});
