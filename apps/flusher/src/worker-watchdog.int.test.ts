import { afterAll, describe, expect, it } from '@jest/globals';
import { addFlushJob, connectRedis, loadConfig, type RedisClient, streamKeys } from '@spool/shared';
import {
  createTestRedis,
  flusherTestEnv,
  randomName,
  TcpProxy,
  testServices,
  waitFor,
  waitUntilLanded,
} from '@spool/testkit';
import { pino } from 'pino';
import { fillBuffer } from '../test/support.js';
import { createFlusherClients } from './clients.js';
import { buildFlusher } from './flusher.js';

const redis = createTestRedis();

afterAll(async () => {
  await redis.quit();
});

describe('the flush worker watchdog', () => {
  it('replaces a worker whose Redis connections wedged (open, never answering), and the waiting flush lands', async () => {
    const namespace = randomName('ns');
    const env = flusherTestEnv({ REDIS_NAMESPACE: namespace, FLUSH_INTERVAL: '1h' });
    const config = loadConfig(env, 'flusher');
    // The S3 client reads its credentials from the environment, as the flusher's does.
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
    });
    // The worker reaches Redis through a proxy, and nothing else does: a wedge then stops the
    // worker only, as the Cluster outage did (its blocking connection).
    const target = new URL(testServices().redisUrl);
    const proxy = await TcpProxy.start(target.hostname, Number(target.port));
    const clients = createFlusherClients(config);
    const workerConnections: RedisClient[] = [];
    clients.connectWorker = () => {
      const connection = connectRedis(
        { kind: 'standalone', url: proxy.url('redis') },
        { maxRetriesPerRequest: null },
      );
      workerConnections.push(connection);
      return connection;
    };
    const flusher = await buildFlusher({
      config,
      clients,
      logger: pino({ level: process.env.DBG ? 'debug' : 'silent' }),
      watchdog: { checkEveryMs: 200, wedgedAfterMs: 1_500 },
    });
    try {
      const first = flusher.worker;
      // Both of its connections (commands, and the blocking wait for a job) open through the
      // proxy before the wedge: one opened after it would pass, and the worker would not wedge.
      await waitFor(
        async () => (first.isRunning() && proxy.connections >= 2 ? true : undefined),
        10_000,
        'the worker to run on its two connections',
      );
      // The worker blocks waiting for a job, on connections that now never answer nor close.
      proxy.wedge();
      const keys = streamKeys(randomName('web'), namespace);
      await fillBuffer(redis, keys, 10_000);
      await addFlushJob(clients.queue, keys.stream, 0);

      await waitUntilLanded(redis, [keys.stream], { namespace, timeoutMs: 30_000 });
      // A boolean, not the worker: Jest cannot write a failure that quotes a circular object.
      expect(flusher.worker === first).toBe(false);
      const metrics = await flusher.app.inject({ url: '/metrics' });
      // At least one: on a loaded runner a replacement may itself be judged stuck and replaced.
      expect(
        Number(/^spool_flush_worker_replacements_total (\d+)$/m.exec(metrics.body)?.[1]),
      ).toBeGreaterThanOrEqual(1);
    } finally {
      await flusher.close();
      await clients.close();
      for (const connection of workerConnections) connection.disconnect();
      await proxy.close();
    }
  });
});
