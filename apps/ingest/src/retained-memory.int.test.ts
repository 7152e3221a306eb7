import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import {
  createTestRedis,
  randomName,
  type ServiceProcess,
  sendRawHttp,
  spawnService,
  testServices,
  waitFor,
} from '@spool/testkit';

/** What an ingest keeps of a request once it is answered: its memory must not grow with them. */
const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const NAMESPACE = randomName('idle');
let ingest: ServiceProcess;

/** An ingest on a heap of `heapMiB`: one that held what it should not runs out of it, and exits. */
const smallHeapIngest = (heapMiB: number, namespace: string) =>
  spawnService(MAIN, {
    ALLOW_ANONYMOUS_WRITES: 'true',
    REDIS_URL: testServices().redisUrl,
    REDIS_NAMESPACE: namespace,
    LOG_LEVEL: 'warn',
    NODE_OPTIONS: `--max-old-space-size=${heapMiB}`,
  });

beforeAll(async () => {
  // The heap a 512 Mi pod gives it (body/exact-json.ts).
  ingest = await smallHeapIngest(128, NAMESPACE);
});
afterAll(async () => {
  await ingest.stop();
  // Some 20 MB stored: the Redis is shared with tests that set maxmemory by what it holds.
  const redis = createTestRedis();
  await redis.del(streamKeys('web', NAMESPACE).buf);
  await redis.quit();
});

/** 777 KB of 2,500 events, each holding 101 empty arrays: some tens of MB once parsed. */
const BODY = `[${Array.from({ length: 2_500 }, () => `{"a":[${'[],'.repeat(100)}[]]}`).join(',')}]`;

/** One request on a new keep-alive connection, left open: its answer's status, or 'closed'. */
async function answeredAndLeftOpen(url: string): Promise<string> {
  const sent = await sendRawHttp(
    url,
    `POST /v1/streams/web/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`,
  );
  const head = async () => (sent.answer().includes('\r\n\r\n') ? sent.answer().slice(9, 12) : undefined);
  // An ingest that ran out of heap closes it unanswered: told at once, not after the wait.
  return Promise.race([
    waitFor(head, 60_000, 'an answer'),
    sent.closed.then(async () => (await head()) ?? 'closed'),
  ]);
}

describe('keep-alive connections left idle after a request', () => {
  it("hold none of their requests' bodies: 30 of them, one body at a time, fit a 128 MB heap", async () => {
    // Each connection's last response was kept (to hold a pipelined request behind it), and with
    // it the request's parsed body, for as long as the connection stayed open: a review's 128 MB
    // ingest ran out of heap after 10 such connections, with one body in flight at a time.
    const answers: string[] = [];
    for (let i = 0; i < 30; i += 1) answers.push(await answeredAndLeftOpen(ingest.url));
    expect(answers).toEqual(Array(30).fill('202'));
    expect(ingest.child.exitCode).toBeNull();
  }, 120_000);
});

describe('requests to new streams with long URLs', () => {
  it('leave only the names: 5,000 of 15 KB each fit a 64 MB heap', async () => {
    // A stream name is a slice of the request's URL, which V8 keeps whole while the slice lives:
    // remembered as registered, each name held its 15 KB URL (a review's run: a 128 MB ingest
    // ran out of heap after 7,000 such requests, each answered 202).
    const small = await smallHeapIngest(64, randomName('long-urls'));
    try {
      const pad = 'a'.repeat(15_000);
      const run = randomName('u');
      const statuses = new Map<number, number>();
      let next = 0;
      const client = async () => {
        for (let i = next++; i < 5_000; i = next++) {
          const response = await fetch(`${small.url}/v1/streams/${run}-stream-${i}/events?pad=${pad}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"event":"x"}',
          });
          await response.arrayBuffer();
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: 16 }, client));
      expect(Object.fromEntries(statuses)).toEqual({ 202: 5_000 });
      expect(small.child.exitCode).toBeNull();
    } finally {
      await small.stop();
    }
  }, 180_000);
});
