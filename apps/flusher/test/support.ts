import { randomBytes } from 'node:crypto';
import {
  appendToBuffer,
  type Config,
  defineSpoolCommands,
  loadConfig,
  REDIS_STRING_LIMIT,
  registerStream,
  type StreamKeys,
  streamRegistryKey,
} from '@spool/shared';
import { flusherTestEnv } from '@spool/testkit';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { createFlusherClients, type FlusherClients } from '../src/clients.js';
import { buildFlusher, type Flusher } from '../src/flusher.js';

export interface TestFlusher extends Flusher {
  clients: FlusherClients;
  config: Readonly<Config>;
}

/** A flusher in this process against the test run's Redis and S3 (credentials from the environment). */
export async function startTestFlusher(env: Record<string, string> = {}): Promise<TestFlusher> {
  const full = flusherTestEnv(env);
  const config = loadConfig(full, 'flusher');
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: full.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: full.AWS_SECRET_ACCESS_KEY,
  });
  const clients = createFlusherClients(config);
  const flusher = await buildFlusher({ config, clients, logger: pino({ level: config.logLevel }) });
  return {
    get worker() {
      return flusher.worker;
    },
    app: flusher.app,
    jobsInHand: () => flusher.jobsInHand(),
    clients,
    config,
    async close() {
      await flusher.close();
      await clients.close();
    },
  };
}

/**
 * Fills a stream's buffer straight through the append script (the ingest's own protocol), with
 * lines shaped like the ingest's: `{"messageId","receivedAt","data"}`. `random` data barely
 * compresses, for uploads that take a while. Returns the messageIds, in order.
 */
export async function fillBuffer(
  redis: Redis,
  keys: StreamKeys,
  totalBytes: number,
  options: { random?: boolean; lineBytes?: number } = {},
): Promise<string[]> {
  defineSpoolCommands(redis);
  const lineBytes = options.lineBytes ?? 1024;
  const ids: string[] = [];
  let written = 0;
  while (written < totalBytes) {
    const lines: string[] = [];
    let chunkBytes = 0;
    while (chunkBytes < 4 * 1024 * 1024 && written + chunkBytes < totalBytes) {
      const messageId = `${keys.stream}-${ids.length}`;
      const filler = options.random
        ? randomBytes(lineBytes * 0.75).toString('base64')
        : 'x'.repeat(lineBytes);
      const line = `${JSON.stringify({ messageId, receivedAt: new Date().toISOString(), data: filler })}\n`;
      ids.push(messageId);
      lines.push(line);
      chunkBytes += Buffer.byteLength(line);
    }
    const result = await appendToBuffer(redis, keys, {
      chunk: lines.join(''),
      eventCount: lines.length,
      maxBytes: REDIS_STRING_LIMIT,
      dedupeWindowMs: 0,
      clientIds: { ids: [], lines: [] },
    });
    if (result.refused) throw new Error('buffer refused the fill');
    written += chunkBytes;
  }
  await registerStream(redis, streamRegistryKey(namespaceOf(keys)), keys.stream);
  return ids;
}

/** The namespace a stream's keys were built with (`<ns>:{<stream>}:buf`). */
function namespaceOf(keys: StreamKeys): string {
  return keys.buf.slice(0, keys.buf.indexOf(':{'));
}
