import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';

export interface LoadPlan {
  /** Ingest URLs; client i sends to urls[i % urls.length]. */
  urls: string[];
  /** Sent as `Authorization: Bearer <key>` (a stack with WRITE_KEYS). */
  writeKey?: string;
  runId: string;
  streams: string[];
  concurrency: number;
  eventsPerRequest: number;
  eventBytes: number;
  /** Pad events with slices of random text (the events then compress about 2.6-2.8:1 in gzip and zstd, like real ones)
   * instead of one repeated character (about 50:1): big generations become multipart uploads. */
  randomPadding?: boolean;
  /** Stops when this returns true (checked before every request). */
  done(): boolean;
}

export const OUTCOME = { refused: 0, accepted: 1, unknown: 2 } as const;

/** What one client did: the outcome of each of its requests. */
export interface ClientLog {
  /** outcome[seq]: accepted (202), refused (an answer other than 202: nothing was stored), or
   * unknown (no answer, or an answer saying they may be stored: they may or may not be). */
  outcome: number[];
  /** answeredAt[seq]: when the 202 came (ms since the epoch), for an accepted request. */
  answeredAt: number[];
}

export interface LoadStats {
  /** Requests sent (answered or not), retries included. */
  started: number;
  requests: number;
  accepted: number;
  refused: number;
  errors: number;
  /** Requests sent again, with the same messageIds, after a 503, a 429 or no answer. */
  retries: number;
  /** Requests answered for good with neither a 202 nor a retry (a 4xx but 429): the load
   * itself is wrong (events over the ingest's limits, no write key), so the run proves nothing. */
  wrongAnswers: number;
  /** The first such answer: its status and the start of its body. */
  firstWrongAnswer?: string;
  acceptedEvents: number;
  /** Events an answer counted as duplicates: stored by an earlier attempt whose answer was lost. */
  duplicateEvents: number;
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
    retries: 0,
    wrongAnswers: 0,
    acceptedEvents: 0,
    duplicateEvents: 0,
    acceptedBytesByStream: new Map(),
    intervalLatencies: [],
    allLatencies: [],
  };
}

/** The stream request `seq` of client `c` goes to: what verification checks each event against. */
export function streamFor(streams: readonly string[], client: number, seq: number): string {
  return streams[(client + seq) % streams.length] as string;
}

/** messageId of event `e` of request `seq` of client `c`: what verification maps back. */
export function messageId(runId: string, client: number, seq: number, event: number): string {
  return `${runId}-${client}-${seq}-${event}`;
}

/**
 * Slices of it pad events when `randomPadding` is set: no per-event cost beyond the copy. 16 MiB,
 * more than zstd's window at the level Spool writes, as well as gzip's (32 KiB): with a 128 KiB
 * block zstd found every slice again and compressed the chaos load 13.6:1 (gzip 2.6:1; now 2.8:1
 * and 2.6:1), so its objects never reached a multipart upload. Made when first needed.
 */
let randomText: string | undefined;
const RANDOM_TEXT_BYTES = 12 * 1024 * 1024;

function padding(plan: LoadPlan, length: number, client: number, seq: number, event: number): string {
  if (!plan.randomPadding) return 'x'.repeat(length);
  randomText ??= randomBytes(RANDOM_TEXT_BYTES).toString('base64url');
  const start = ((client * 7_919 + seq * 104_729 + event * 1_299_709) >>> 0) % (randomText.length - length);
  return randomText.slice(start, start + length);
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

/** Answers after which a client sends the same request again, as analytics SDKs do. */
const RETRIED_STATUSES = new Set([429, 503]);
/** 503s whose events may be stored, wholly or in part (docs/api.md): a retry finds them duplicates. */
const MAY_BE_STORED = /"code":"SPOOL_(REDIS_UNAVAILABLE|PARTLY_STORED)"/;

/**
 * Runs the clients; each sends one request at a time over a keep-alive connection. A request
 * answered 429 or 503, or not answered at all, is sent again with the same body (the same
 * messageIds) until it is answered otherwise or the load is done, as a well-behaved SDK retries.
 */
export async function runLoad(plan: LoadPlan, stats: LoadStats, logs: ClientLog[]): Promise<void> {
  const dispatcher = new Agent({ connections: plan.concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (plan.writeKey) headers.authorization = `Bearer ${plan.writeKey}`;
  const client = async (index: number) => {
    const log: ClientLog = { outcome: [], answeredAt: [] };
    logs[index] = log;
    for (let seq = 0; !plan.done(); seq += 1) {
      const stream = streamFor(plan.streams, index, seq);
      const { text, bytes } = body(plan, index, seq);
      const url = plan.urls[index % plan.urls.length] as string;
      // Once an attempt may have been stored, the request's events may land whatever comes next.
      let mayBeStored = false;
      for (let attempt = 0; ; attempt += 1) {
        if (attempt > 0) stats.retries += 1;
        stats.started += 1;
        const started = performance.now();
        let status: number;
        let answer: string;
        try {
          const response = await request(`${url}/v1/streams/${stream}/events`, {
            method: 'POST',
            headers,
            body: text,
            dispatcher,
            headersTimeout: 10_000,
            bodyTimeout: 10_000,
          });
          status = response.statusCode;
          answer = await response.body.text();
        } catch {
          stats.requests += 1;
          stats.errors += 1;
          mayBeStored = true;
          log.outcome[seq] = OUTCOME.unknown;
          if (plan.done()) break;
          await pause(100);
          continue;
        }
        const ms = performance.now() - started;
        stats.intervalLatencies.push(ms);
        stats.allLatencies.push(ms);
        stats.requests += 1;
        if (status === 202) {
          const counts = JSON.parse(answer) as { accepted: number; duplicates: number };
          log.outcome[seq] = OUTCOME.accepted;
          log.answeredAt[seq] = Date.now();
          stats.accepted += 1;
          // Each event of the request is stored once: by this attempt, or (a duplicate) an earlier one.
          stats.acceptedEvents += counts.accepted + counts.duplicates;
          stats.duplicateEvents += counts.duplicates;
          stats.acceptedBytesByStream.set(stream, (stats.acceptedBytesByStream.get(stream) ?? 0) + bytes);
          break;
        }
        stats.refused += 1;
        // A timed-out append may still have been applied by Redis, and a sharded stream may have
        // stored part of the request: its events may land.
        if (MAY_BE_STORED.test(answer)) mayBeStored = true;
        log.outcome[seq] = mayBeStored ? OUTCOME.unknown : OUTCOME.refused;
        if (!RETRIED_STATUSES.has(status)) {
          stats.wrongAnswers += 1;
          stats.firstWrongAnswer ??= `${status} ${answer.slice(0, 300)}`;
          break;
        }
        if (plan.done()) break;
        await pause(200);
      }
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, (_, index) => client(index)));
  await dispatcher.close();
}
