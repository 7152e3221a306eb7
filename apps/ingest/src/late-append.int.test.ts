import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import {
  createTestRedis,
  ingestTestEnv,
  randomName,
  type ServiceProcess,
  SPOOL_MAINS,
  spawnService,
  waitFor,
} from '@spool/testkit';

const redis = createTestRedis();
afterAll(() => redis.quit());

/**
 * A request whose ingest stands still (SIGSTOP: a frozen process, a paused VM) while its client
 * sends the rest of its body and, waiting no longer, closes the connection; the ingest is let go
 * after `frozenMs`. Resolves with the client's side: the answer, if one came.
 */
async function sendThroughAFreeze(
  ingest: ServiceProcess,
  stream: string,
  events: object[],
  { frozenMs, clientWaits }: { frozenMs: number; clientWaits: boolean },
): Promise<string> {
  const body = JSON.stringify(events);
  const { port } = new URL(ingest.url);
  const socket = connect(Number(port), '127.0.0.1');
  let answer = '';
  socket.on('data', (data) => {
    answer += data.toString();
  });
  const closed = new Promise((resolve) => socket.on('close', resolve));
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    `POST /v1/streams/${stream}/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
  );
  await sleep(200); // the headers read: the request is under way
  process.kill(ingest.pid, 'SIGSTOP');
  try {
    socket.write(body.slice(10));
    await sleep(200);
    if (!clientWaits) socket.destroy();
    await sleep(frozenMs);
  } finally {
    process.kill(ingest.pid, 'SIGCONT');
  }
  await closed;
  return answer;
}

describe('a request held in a frozen ingest', () => {
  it('is not stored once its client is gone and it has waited past half DEDUPE_WINDOW (its retry may be stored, and forgotten), and is if its client waits', async () => {
    const namespace = randomName('ns');
    const ingest = await spawnService(
      SPOOL_MAINS.ingest,
      ingestTestEnv({ REDIS_NAMESPACE: namespace, DEDUPE_WINDOW: '2s', LOG_LEVEL: 'info' }),
    );
    try {
      const [gone, waiting] = [randomName('gone'), randomName('waiting')];
      const events = [{ messageId: `${gone}-1` }, { messageId: `${gone}-2` }];
      const goneAnswer = await sendThroughAFreeze(ingest, gone, events, {
        frozenMs: 1_500,
        clientWaits: false,
      });
      expect(goneAnswer).toBe('');
      await waitFor(
        async () =>
          ingest.output().includes('lost its client: its events are not stored') ? true : undefined,
        10_000,
        "the ingest's refusal",
      );
      expect(await redis.exists(streamKeys(gone, namespace).buf)).toBe(0);

      // The same wait with its client still there: answered, and stored.
      const waitingAnswer = await sendThroughAFreeze(ingest, waiting, [{ messageId: `${waiting}-1` }], {
        frozenMs: 1_500,
        clientWaits: true,
      });
      expect(waitingAnswer).toMatch(/^HTTP\/1\.1 202 /);
      expect(await redis.get(streamKeys(waiting, namespace).buf)).toContain(`${waiting}-1`);
    } finally {
      await ingest.stop();
    }
  });
});
