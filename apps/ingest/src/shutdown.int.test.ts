import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import { createTestRedis, randomName, testServices } from '@spool/testkit';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const redis = createTestRedis();
afterAll(() => redis.quit());

/** Starts the built ingest as a real process; resolves with its URL once it listens. */
async function startIngestProcess(): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      REDIS_URL: testServices().redisUrl,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (data) => {
    output += data;
  });
  child.stderr?.on('data', (data) => {
    output += data;
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (match?.[1]) return { child, url: match[1], output: () => output };
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`ingest did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('graceful shutdown of the ingest process', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'on %s stops taking requests, answers the ones in flight after their append, and exits 0',
    async (signal) => {
      const { child, url, output } = await startIngestProcess();
      const stream = randomName('stop');
      const acknowledged: string[] = [];
      const refused: string[] = [];
      let stop = false;
      let sequence = 0;

      const client = async () => {
        while (!stop) {
          const messageId = `m${sequence++}`;
          try {
            const response = await fetch(`${url}/v1/streams/${stream}/events`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ messageId }),
            });
            await response.text();
            if (response.status === 202) acknowledged.push(messageId);
            else if (response.status === 503) refused.push(messageId);
            else throw new Error(`unexpected ${response.status}`);
          } catch (error) {
            if ((error as Error).message.startsWith('unexpected')) throw error;
            return; // connection refused or closed: the server is gone
          }
        }
      };
      const clients = Array.from({ length: 20 }, client);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code] = await exited;
      stop = true;
      await Promise.all(clients);

      expect(code).toBe(0);
      expect(output()).toContain('"msg":"stopped"');
      expect(acknowledged.length).toBeGreaterThan(50);
      const stored = ((await redis.get(streamKeys(stream).buf)) ?? '')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line).messageId as string);
      const storedSet = new Set(stored);
      expect(stored.length).toBe(storedSet.size);
      for (const messageId of acknowledged) expect(storedSet.has(messageId)).toBe(true);
      for (const messageId of refused) expect(storedSet.has(messageId)).toBe(false);
    },
  );
});
