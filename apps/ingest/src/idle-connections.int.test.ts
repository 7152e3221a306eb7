import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import { createTestRedis, randomName, type ServiceProcess, spawnService, testServices } from '@spool/testkit';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const NAMESPACE = randomName('idle');
let ingest: ServiceProcess;

beforeAll(async () => {
  ingest = await spawnService(MAIN, {
    ALLOW_ANONYMOUS_WRITES: 'true',
    REDIS_URL: testServices().redisUrl,
    REDIS_NAMESPACE: NAMESPACE,
    LOG_LEVEL: 'warn',
    // The heap a 512 Mi pod gives it (body/exact-json.ts).
    NODE_OPTIONS: '--max-old-space-size=128',
  });
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

/** Sends one request on a new keep-alive connection, and resolves with its status, the connection left open. */
function answeredAndLeftOpen(port: number, open: net.Socket[]): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.write(
        `POST /v1/streams/web/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`,
      ),
    );
    open.push(socket);
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) resolve(head.slice(9, 12));
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    socket.on('close', () => resolve('closed'));
  });
}

describe('keep-alive connections left idle after a request', () => {
  it("hold none of their requests' bodies: 30 of them, one body at a time, fit a 128 MB heap", async () => {
    // Each connection's last response was kept (to hold a pipelined request behind it), and with
    // it the request's parsed body, for as long as the connection stayed open: a review's 128 MB
    // ingest ran out of heap after 10 such connections, with one body in flight at a time.
    const port = Number(new URL(ingest.url).port);
    const open: net.Socket[] = [];
    try {
      const answers: string[] = [];
      for (let i = 0; i < 30; i += 1) answers.push(await answeredAndLeftOpen(port, open));
      expect(answers).toEqual(Array(30).fill('202'));
      expect(ingest.child.exitCode).toBeNull();
    } finally {
      for (const socket of open) socket.destroy();
    }
  }, 120_000);
});
