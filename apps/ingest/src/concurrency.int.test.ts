import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineSpoolCommands, flushJobId, sealGeneration, streamKeys } from '@spool/shared';
import { createTestRedis, randomName } from '@spool/testkit';
import { startTestIngest, type TestIngest } from '../test/support.js';

const CLIENTS = 50;
const REQUESTS_PER_CLIENT = 200;
const THRESHOLD = 16 * 1024;

const redis = createTestRedis();
defineSpoolCommands(redis);
// A namespace of its own: a flusher of another test file running at the same time (in the
// default namespace) would seal, flush or sweep this test's generations, which it counts itself.
const NS = randomName('ns');
const instances: TestIngest[] = [];
const urls: string[] = [];

beforeAll(async () => {
  for (let i = 0; i < 2; i += 1) {
    const ingest = await startTestIngest({
      FLUSH_THRESHOLD_BYTES: String(THRESHOLD),
      MAX_BUFFER_BYTES: '64MiB',
      REDIS_NAMESPACE: NS,
      // Every request must get 202: a command slowed past the default 1 s by a busy machine would
      // answer 503, which is another test's subject (faults.int).
      REDIS_COMMAND_TIMEOUT: '30s',
    });
    instances.push(ingest);
    urls.push(await ingest.app.listen({ host: '127.0.0.1', port: 0 }));
  }
});
afterAll(async () => {
  await Promise.all(instances.map((ingest) => ingest.close()));
  await redis.quit();
});

function metricValue(text: string, name: string): number {
  const match = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return Number(match?.[1] ?? 0);
}

describe('two ingest instances sharing one Redis, under 50 concurrent clients', () => {
  it('store exactly the accepted events and add exactly one flush job per generation that crossed the threshold', async () => {
    const stream = randomName('conc');
    const keys = streamKeys(stream, NS);
    const sent = new Map<string, string>(); // messageId -> client's event JSON
    let sealing = true;
    const sealedGens: number[] = [];

    // Stands in for the flusher: seals the active generation at random moments, so generations
    // turn over while appends race, some before and some after crossing the threshold.
    const sealer = (async () => {
      while (sealing) {
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 40));
        const gen = Number((await redis.get(keys.gen)) ?? 0);
        const sealed = await sealGeneration(redis, keys, gen);
        if (sealed.status === 'sealed') sealedGens.push(gen);
      }
    })();

    const client = async (clientIndex: number) => {
      const statuses: number[] = [];
      for (let r = 0; r < REQUESTS_PER_CLIENT; r += 1) {
        const count = 1 + ((clientIndex + r) % 3);
        const events = Array.from({ length: count }, (_, e) => {
          const messageId = `c${clientIndex}-r${r}-e${e}`;
          const event = { messageId, event: 'page', pad: 'p'.repeat((clientIndex * 7 + r * 13 + e) % 200) };
          sent.set(messageId, JSON.stringify(event));
          return event;
        });
        const response = await fetch(`${urls[(clientIndex + r) % 2]}/v1/streams/${stream}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(events),
        });
        statuses.push(response.status);
        expect(await response.json()).toEqual({
          accepted: count,
          duplicates: 0,
          rejected: [],
          rejectedCount: 0,
        });
      }
      return statuses;
    };
    const statuses = (await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)))).flat();
    sealing = false;
    await sealer;
    const lastGen = Number((await redis.get(keys.gen)) ?? 0);
    if ((await sealGeneration(redis, keys, lastGen)).status === 'sealed') sealedGens.push(lastGen);

    expect(statuses).toHaveLength(CLIENTS * REQUESTS_PER_CLIENT);
    expect(statuses.every((status) => status === 202)).toBe(true);

    // Every accepted event is in exactly one generation, once, with its content unchanged.
    const seen = new Set<string>();
    let storedBytes = 0;
    const crossedGens: number[] = [];
    for (const gen of sealedGens) {
      const buffer = (await redis.get(keys.sealed(gen))) ?? '';
      storedBytes += Buffer.byteLength(buffer);
      if (Buffer.byteLength(buffer) >= THRESHOLD) crossedGens.push(gen);
      for (const line of buffer.slice(0, -1).split('\n')) {
        const { receivedAt, ...event } = JSON.parse(line);
        expect(seen.has(event.messageId)).toBe(false);
        seen.add(event.messageId);
        expect(JSON.stringify(event)).toBe(sent.get(event.messageId));
        expect(typeof receivedAt).toBe('string');
      }
    }
    expect(seen.size).toBe(sent.size);
    expect(await redis.hget(keys.stats, 'accepted')).toBe(String(sent.size));
    expect(await redis.exists(keys.buf)).toBe(0);

    // One job per generation that reached the threshold, none for the others, and no second add.
    expect(crossedGens.length).toBeGreaterThan(5);
    for (const gen of sealedGens) {
      const job = await instances[0]?.queue.getJob(flushJobId(stream, gen));
      expect({ gen, hasJob: job !== undefined }).toEqual({ gen, hasJob: crossedGens.includes(gen) });
    }
    let enqueued = 0;
    let bytes = 0;
    for (const url of urls) {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      enqueued += metricValue(metrics, 'spool_ingest_flush_jobs_enqueued_total');
      bytes += Number(
        new RegExp(`spool_ingest_bytes_total\\{stream="${stream}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0,
      );
    }
    expect(enqueued).toBe(crossedGens.length);
    expect(bytes).toBe(storedBytes);
  });
});
