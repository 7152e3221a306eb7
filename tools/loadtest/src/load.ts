import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';

export interface LoadPlan {
  /** Ingest URLs; client i sends to urls[i % urls.length]. */
  urls: string[];
  runId: string;
  streams: string[];
  concurrency: number;
  eventsPerRequest: number;
  eventBytes: number;
  /** Pad events with slices of random text (the events then gzip about 2.8:1, like real ones)
   * instead of one repeated character (about 50:1): big generations become multipart uploads. */
  randomPadding?: boolean;
  /** Stops when this returns true (checked before every request). */
  done(): boolean;
}

export const OUTCOME = { refused: 0, accepted: 1, unknown: 2 } as const;

/** What one client did: the outcome of each of its requests. */
export interface ClientLog {
  /** outcome[seq]: accepted (202), refused (an answer other than 202: nothing was stored), or
   * unknown (no answer: the events may or may not be stored). */
  outcome: number[];
}

export interface LoadStats {
  /** Requests sent (answered or not). */
  started: number;
  requests: number;
  accepted: number;
  refused: number;
  errors: number;
  acceptedEvents: number;
  acceptedBytesByStream: Map<string, number>;
  /** Latencies (ms) since the last `drainLatencies()`, and of the whole run. */
  intervalLatencies: number[];
  allLatencies: number[];
}

export function newLoadStats(): LoadStats {
  return {
    started: 0,
    requests: 0,
    accepted: 0,
    refused: 0,
    errors: 0,
    acceptedEvents: 0,
    acceptedBytesByStream: new Map(),
    intervalLatencies: [],
    allLatencies: [],
  };
}

/** messageId of event `e` of request `seq` of client `c`: what verification maps back. */
export function messageId(runId: string, client: number, seq: number, event: number): string {
  return `${runId}-${client}-${seq}-${event}`;
}

/** Slices of it pad events when `randomPadding` is set: no per-event cost beyond the copy. */
const RANDOM_TEXT = randomBytes(96 * 1024).toString('base64url');

function padding(plan: LoadPlan, length: number, client: number, seq: number, event: number): string {
  if (!plan.randomPadding) return 'x'.repeat(length);
  const start = ((client * 7_919 + seq * 104_729 + event * 1_299_709) >>> 0) % (RANDOM_TEXT.length - length);
  return RANDOM_TEXT.slice(start, start + length);
}

function body(plan: LoadPlan, client: number, seq: number): { text: string; bytes: number } {
  const events: string[] = [];
  let bytes = 0;
  for (let e = 0; e < plan.eventsPerRequest; e += 1) {
    const head = `{"messageId":"${messageId(plan.runId, client, seq, e)}","event":"page","userId":"u-${(client * 7919 + seq) % 100_000}","pad":"`;
    // receivedAt adds about 40 bytes when stored.
    const pad = padding(plan, Math.max(0, plan.eventBytes - head.length - 2 - 40), client, seq, e);
    const event = `${head}${pad}"}`;
    events.push(event);
    bytes += event.length + 40;
  }
  return { text: `[${events.join(',')}]`, bytes };
}

/** Runs the clients; each sends one request at a time over a keep-alive connection. */
export async function runLoad(plan: LoadPlan, stats: LoadStats, logs: ClientLog[]): Promise<void> {
  const dispatcher = new Agent({ connections: plan.concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const client = async (index: number) => {
    const log: ClientLog = { outcome: [] };
    logs[index] = log;
    for (let seq = 0; !plan.done(); seq += 1) {
      const stream = plan.streams[(index + seq) % plan.streams.length] as string;
      const { text, bytes } = body(plan, index, seq);
      stats.started += 1;
      const started = performance.now();
      try {
        const url = plan.urls[index % plan.urls.length] as string;
        const response = await request(`${url}/v1/streams/${stream}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: text,
          dispatcher,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        const answer = await response.body.text();
        const ms = performance.now() - started;
        stats.intervalLatencies.push(ms);
        stats.allLatencies.push(ms);
        stats.requests += 1;
        if (response.statusCode === 202) {
          log.outcome[seq] = OUTCOME.accepted;
          stats.accepted += 1;
          stats.acceptedEvents += plan.eventsPerRequest;
          stats.acceptedBytesByStream.set(stream, (stats.acceptedBytesByStream.get(stream) ?? 0) + bytes);
        } else {
          // A timed-out append may still have been applied by Redis: its events may land.
          log.outcome[seq] = answer.includes('SPOOL_REDIS_UNAVAILABLE') ? OUTCOME.unknown : OUTCOME.refused;
          stats.refused += 1;
          if (response.statusCode === 503) await new Promise((resolve) => setTimeout(resolve, 200));
        }
      } catch {
        log.outcome[seq] = OUTCOME.unknown;
        stats.requests += 1;
        stats.errors += 1;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, (_, index) => client(index)));
  await dispatcher.close();
}
