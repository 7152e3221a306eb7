import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig, streamKeys } from '@spool/shared';
import { createTestRedis, ingestTestEnv, randomName } from '@spool/testkit';
import type { FastifyInstance } from 'fastify';
import { whenReady } from '../test/support.js';
import { buildApp } from './app.js';
import { createIngestClients, type IngestClients } from './clients.js';

const namespace = randomName('group');
const redis = createTestRedis();
let clients: IngestClients;
let app: FastifyInstance;

beforeAll(async () => {
  const config = loadConfig(ingestTestEnv({ REDIS_NAMESPACE: namespace }), 'ingest');
  clients = createIngestClients(config);
  await whenReady(clients.redis);
  // A window no setting allows (GROUP_COMMIT_WINDOW is at most 100 ms): only a group's size can
  // send it while the test runs.
  app = await buildApp({
    config: { ...config, groupCommitWindowMs: 3_600_000 },
    redis: clients.redis,
    queue: clients.queue,
  });
});

afterAll(async () => {
  await app.close();
  await clients.close();
  await redis.quit();
});

describe('group commit', () => {
  it('sends a group once it holds 4 MiB, without waiting for its window to end', async () => {
    const stream = randomName('large');
    // Five requests of 100 events of about 9 KB: the group passes 4 MiB at the fifth.
    const body = JSON.stringify(Array.from({ length: 100 }, (_, n) => ({ n, pad: 'x'.repeat(9_000) })));
    const answers = await Promise.all(
      Array.from({ length: 5 }, () =>
        app.inject({
          method: 'POST',
          url: `/v1/streams/${stream}/events`,
          headers: { 'content-type': 'application/json' },
          payload: body,
        }),
      ),
    );
    expect(answers.map((answer) => answer.statusCode)).toEqual([202, 202, 202, 202, 202]);
    expect(Number(await redis.hget(streamKeys(stream, namespace).stats, 'accepted'))).toBe(500);
  });
});
