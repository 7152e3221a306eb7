import { createWriteStream } from 'node:fs';
import type { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { eachParquetMessageId, messageIdOf } from '@spool/flusher/dist/parquet-duckdb.js';
import { listKeys } from '@spool/flusher/dist/s3-keys.js';
import { withScratchFile } from '@spool/flusher/dist/scratch-dirs.js';
import {
  addFlushJob,
  FLUSH_QUEUE,
  type FlushJobData,
  QUEUE_CONNECTION_OPTIONS,
  queuePrefix,
  type RedisClient,
  streamKeys,
} from '@spool/shared';
import { Queue } from 'bullmq';
import { type ClientLog, type LoadStats, OUTCOME, streamFor } from './load.js';

export interface Verification {
  objects: number;
  landedEvents: number;
  /** Accepted (202) events found exactly once. */
  acceptedLanded: number;
  /** Accepted events not found. */
  missing: number;
  /** Extra copies of events found more than once. */
  duplicated: number;
  /** Events of refused requests found (a refused request must store nothing). */
  refusedFound: number;
  /** Events of requests without an answer that landed (allowed: the client could not know). */
  unknownLanded: number;
  /** Events found in a stream other than the one their request went to. */
  misplaced: number;
  /** The accepted requests some of whose events are missing: [client, seq]. */
  missingRequests: Array<[number, number]>;
  /** Lines that are not this run's events. */
  foreign: number;
}

/**
 * Flushes what the streams still buffer without waiting for FLUSH_INTERVAL: adds each active
 * generation's flush job, as the sweep would (adding an existing job id is a no-op).
 */
export async function flushNow(redis: RedisClient, namespace: string, streams: string[]): Promise<void> {
  const queue = new Queue<FlushJobData>(FLUSH_QUEUE, {
    ...QUEUE_CONNECTION_OPTIONS,
    connection: redis,
    prefix: queuePrefix(namespace),
  });
  try {
    for (const stream of streams) {
      const keys = streamKeys(stream, namespace);
      if ((await redis.strlen(keys.buf)) === 0) continue;
      const gen = Number((await redis.get(keys.gen)) ?? 0);
      await addFlushJob(queue, stream, gen);
    }
  } finally {
    await queue.close();
  }
}

/**
 * A stored line starts with the server's receivedAt, then the id (earlier versions wrote the
 * loadtest's id first): read fast; any other line is parsed whole.
 */
const ID = /^\{(?:"receivedAt":"[^"]*",)?"messageId":"([^"]+)"/;

/** An NDJSON object's decompressor, by its format (OUTPUT_FORMAT). */
function decompressorOf(key: string): Transform {
  if (key.endsWith('.ndjson.gz')) return createGunzip();
  if (key.endsWith('.ndjson.zst')) return createZstdDecompress();
  throw new Error(`cannot read ${key}: not an object of an OUTPUT_FORMAT Spool writes`);
}

/**
 * Calls `onId` with the messageId of each event of an object, streaming: NDJSON decompressed line
 * by line; Parquet downloaded to a file, which DuckDB reads in batches of rows.
 */
async function eachMessageId(
  body: Readable,
  key: string,
  onId: (id: string | undefined) => void,
): Promise<void> {
  if (key.endsWith('.parquet')) {
    await withScratchFile('object.parquet', async (file) => {
      await pipeline(body, createWriteStream(file));
      await eachParquetMessageId(file, onId);
    });
    return;
  }
  await pipeline(body, decompressorOf(key), async (source: AsyncIterable<Buffer>) => {
    for await (const line of linesOf(source)) {
      // A copy that re-wrote the event (keys reordered, spaces) still counts as its id.
      onId(ID.exec(line)?.[1] ?? messageIdOf(line));
    }
  });
}

/** The lines of a byte stream; a line may span chunks. */
async function* linesOf(source: AsyncIterable<Buffer>): AsyncGenerator<string> {
  let rest: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    const data = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (let at = data.indexOf(0x0a); at !== -1; at = data.indexOf(0x0a, start)) {
      yield data.toString('utf8', start, at);
      start = at + 1;
    }
    rest = data.subarray(start);
  }
  if (rest.length > 0) yield rest.toString('utf8');
}

/**
 * Reads back every object of the run's streams under `prefix` (S3_PREFIX), in any OUTPUT_FORMAT,
 * streaming (objects may be hundreds of MB; a download cut short fails the run, never hangs it), and counts each event
 * by messageId against what each client was told, in the stream its request went to.
 */
export async function verify(
  s3: S3Client,
  target: { bucket: string; prefix?: string },
  streams: string[],
  runId: string,
  eventsPerRequest: number,
  logs: ClientLog[],
): Promise<Verification> {
  const { bucket, prefix = '' } = target;
  const seen = logs.map((log) => new Uint8Array(log.outcome.length * eventsPerRequest));
  const result: Verification = {
    objects: 0,
    landedEvents: 0,
    acceptedLanded: 0,
    missing: 0,
    duplicated: 0,
    refusedFound: 0,
    unknownLanded: 0,
    misplaced: 0,
    missingRequests: [],
    foreign: 0,
  };
  const count = (stream: string, id = '') => {
    result.landedEvents += 1;
    const [run, client, seq, event] = id.split('-');
    const counts = seen[Number(client)];
    const index = Number(seq) * eventsPerRequest + Number(event);
    if (run !== runId || !counts || !(index < counts.length)) {
      result.foreign += 1;
      return;
    }
    if (streamFor(streams, Number(client), Number(seq)) !== stream) result.misplaced += 1;
    counts[index] = Math.min(255, (counts[index] ?? 0) + 1);
  };
  for (const stream of streams) {
    for await (const key of listKeys(s3, bucket, `${prefix}stream=${stream}/`)) {
      result.objects += 1;
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      await eachMessageId(object.Body as Readable, key, (id) => count(stream, id));
    }
  }
  logs.forEach((log, client) => {
    const counts = seen[client] as Uint8Array;
    log.outcome.forEach((outcome, seq) => {
      const missingBefore = result.missing;
      for (let event = 0; event < eventsPerRequest; event += 1) {
        const count = counts[seq * eventsPerRequest + event] ?? 0;
        if (count > 1) result.duplicated += count - 1;
        if (outcome === OUTCOME.accepted) {
          if (count > 0) result.acceptedLanded += 1;
          else result.missing += 1;
        } else if (outcome === OUTCOME.refused && count > 0) result.refusedFound += 1;
        else if (outcome === OUTCOME.unknown && count > 0) result.unknownLanded += 1;
      }
      if (result.missing > missingBefore) result.missingRequests.push([client, seq]);
    });
  });
  return result;
}

/**
 * What fails a loadtest, chaos or soak run, in words: a load that stored nothing or was refused
 * for good (the run proves nothing), and a read-back that found events lost, stored twice, stored
 * though refused, or in another stream. `mayLose(client, seq)` excuses the lost events of an
 * accepted request (the chaos run's window around a Redis kill); by default none is excused.
 * `landingTimedOut` says the wait for the flush ended first: what is missing may still be in
 * Redis, on its way, so it is not called lost.
 */
export function runProblems(
  stats: LoadStats,
  v: Verification | undefined,
  {
    mayLose = () => false,
    landingTimedOut = false,
  }: { mayLose?: (client: number, seq: number) => boolean; landingTimedOut?: boolean } = {},
): string[] {
  const problems: string[] = [];
  if (stats.acceptedEvents === 0) problems.push('no event was accepted');
  if (stats.wrongAnswers > 0) {
    problems.push(`${stats.wrongAnswers} request(s) refused for good; the first: ${stats.firstWrongAnswer}`);
  }
  if (!v) return problems;
  const lost = v.missingRequests.filter(([client, seq]) => !mayLose(client, seq)).length;
  if (lost > 0 && landingTimedOut) {
    problems.push(
      `${lost} acknowledged request(s) had events not in S3 when the wait for landing ended (${v.missing} event(s) in all): still in Redis, or lost; see the flusher's logs`,
    );
  } else if (lost > 0) {
    problems.push(`${lost} acknowledged request(s) lost events (${v.missing} event(s) missing in all)`);
  }
  if (v.duplicated > 0) problems.push(`${v.duplicated} duplicate(s)`);
  if (v.refusedFound > 0) problems.push(`${v.refusedFound} refused event(s) stored`);
  if (v.misplaced > 0) problems.push(`${v.misplaced} event(s) in another stream`);
  // The run's streams are its own: every line in them is one of its events, or something wrote
  // what no client sent (or a line without its messageId).
  if (v.foreign > 0) problems.push(`${v.foreign} line(s) that are none of the run's events`);
  return problems;
}
