import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import {
  addFlushJob,
  FLUSH_QUEUE,
  type FlushJobData,
  queuePrefix,
  type RedisClient,
  streamKeys,
} from '@spool/shared';
import { Queue } from 'bullmq';
import { type ClientLog, OUTCOME } from './load.js';

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
  /** Lines that are not this run's events. */
  foreign: number;
}

/**
 * Flushes what the streams still buffer without waiting for FLUSH_INTERVAL: adds each active
 * generation's flush job, as the sweep would (adding an existing job id is a no-op).
 */
export async function flushNow(redis: RedisClient, namespace: string, streams: string[]): Promise<void> {
  const queue = new Queue<FlushJobData>(FLUSH_QUEUE, { connection: redis, prefix: queuePrefix(namespace) });
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

async function* objectKeys(s3: S3Client, bucket: string, prefix: string): AsyncGenerator<string> {
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key) yield object.Key;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

const ID = /^\{"messageId":"([^"]+)"/;

/**
 * Reads back every object of the run's streams, streaming (objects may be hundreds of MB), and
 * counts each event by messageId against what each client was told.
 */
export async function verify(
  s3: S3Client,
  bucket: string,
  streams: string[],
  runId: string,
  eventsPerRequest: number,
  logs: ClientLog[],
): Promise<Verification> {
  const seen = logs.map((log) => new Uint8Array(log.outcome.length * eventsPerRequest));
  const result: Verification = {
    objects: 0,
    landedEvents: 0,
    acceptedLanded: 0,
    missing: 0,
    duplicated: 0,
    refusedFound: 0,
    unknownLanded: 0,
    foreign: 0,
  };
  for (const stream of streams) {
    for await (const key of objectKeys(s3, bucket, `stream=${stream}/`)) {
      result.objects += 1;
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const lines = createInterface({
        input: (object.Body as Readable).pipe(createGunzip()),
        crlfDelay: Number.POSITIVE_INFINITY,
      });
      for await (const line of lines) {
        result.landedEvents += 1;
        const id = ID.exec(line)?.[1] ?? '';
        const [run, client, seq, event] = id.split('-');
        const counts = seen[Number(client)];
        const index = Number(seq) * eventsPerRequest + Number(event);
        if (run !== runId || !counts || !(index < counts.length)) {
          result.foreign += 1;
          continue;
        }
        counts[index] = Math.min(255, (counts[index] ?? 0) + 1);
      }
    }
  }
  logs.forEach((log, client) => {
    const counts = seen[client] as Uint8Array;
    log.outcome.forEach((outcome, seq) => {
      for (let event = 0; event < eventsPerRequest; event += 1) {
        const count = counts[seq * eventsPerRequest + event] ?? 0;
        if (count > 1) result.duplicated += count - 1;
        if (outcome === OUTCOME.accepted) {
          if (count === 0) result.missing += 1;
          else result.acceptedLanded += 1;
        } else if (outcome === OUTCOME.refused && count > 0) result.refusedFound += 1;
        else if (outcome === OUTCOME.unknown && count > 0) result.unknownLanded += 1;
      }
    });
  });
  return result;
}
