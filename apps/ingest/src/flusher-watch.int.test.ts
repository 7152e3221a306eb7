import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from '@jest/globals';
import { flusherAliveKey, loadConfig, loggerOptions } from '@spool/shared';
import { createTestRedis, ingestTestEnv, randomName, until } from '@spool/testkit';
import { pino } from 'pino';
import { buildApp } from './app.js';
import { createIngestClients } from './clients.js';

const redis = createTestRedis();

afterAll(async () => {
  await redis.quit();
});

/** An ingest of `namespace` that looks for a flusher every 50 ms, and takes 1 s without one for none. */
async function ingestOf(namespace: string) {
  const logged: Array<{ level: number; msg: string; namespace?: string }> = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logged.push(JSON.parse(line));
      done();
    },
  });
  const config = loadConfig(ingestTestEnv({ REDIS_NAMESPACE: namespace }), 'ingest');
  const clients = createIngestClients(config);
  const app = await buildApp({
    config,
    redis: clients.redis,
    queue: clients.queue,
    logger: pino(loggerOptions('spool-ingest', 'info'), sink),
    flusherWatch: { lookEveryMs: 50, unseenAfterMs: 1_000 },
  });
  const seen = async () => {
    const metrics = (await app.inject({ url: '/metrics' })).body;
    return /^spool_ingest_flusher_seen (\d)$/m.exec(metrics)?.[1];
  };
  const said = (level: 'warn' | 'info') =>
    logged.filter((line) => line.level === (level === 'warn' ? 40 : 30) && line.msg.includes('flusher'));
  return {
    seen,
    said,
    async close() {
      await app.close();
      await clients.close();
    },
  };
}

/** The mark a flusher of `namespace` sets at each sweep tick (sweep-timer.ts). */
const markAlive = (namespace: string, ms: number) => redis.set(flusherAliveKey(namespace), 'test', 'PX', ms);

describe('the ingest looking for a flusher of its namespace', () => {
  it('says when no flusher has run on its namespace (one of another namespace is none), and when one does again', async () => {
    const namespace = randomName('ns');
    // A flusher sweeping a namespace next to it: REDIS_NAMESPACE set differently on the flushers.
    await markAlive(`${namespace}x`, 60_000);
    const ingest = await ingestOf(namespace);
    try {
      expect(await ingest.seen()).toBe('1'); // a flusher is taken to sweep until one has not for a while
      await until('the ingest to see no flusher', async () => (await ingest.seen()) === '0');
      const [warning, ...more] = ingest.said('warn');
      expect(more).toEqual([]);
      expect(warning?.namespace).toBe(namespace);
      expect(warning?.msg).toContain('give them the ingest');

      await markAlive(namespace, 60_000);
      await until('the ingest to see a flusher again', async () => (await ingest.seen()) === '1');
      expect(ingest.said('info').map((line) => line.namespace)).toEqual([namespace]);
    } finally {
      await ingest.close();
    }
  });
});
