import { S3Client } from '@aws-sdk/client-s3';
import { FLUSH_QUEUE, queuePrefix, type RedisClient } from '@spool/shared';
import { listObjectKeys, readSpoolObject, waitUntilLanded } from '@spool/testkit';
import type { LocalStack } from '@spool/testkit/local-stack';

/** The stack's S3 stand-in, as a client. */
export function stackS3(stack: LocalStack): S3Client {
  const s3 = stack.s3 as NonNullable<LocalStack['s3']>;
  return new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

/** What the senders were told: messageIds answered 202, per stream. */
export type Acknowledged = Map<string, Set<string>>;

/**
 * Posts `events` events to `stream` in batches of `batch`, round-robin over `ingests`, as a
 * careful client does: a batch answered 503 (or cut off) is sent again with the same messageIds
 * until it is accepted, so every event ends up acknowledged once and lands once.
 */
export async function send(
  ingests: string[],
  stream: string,
  events: number,
  batch: number,
  acknowledged: Acknowledged,
  deadline = Date.now() + 60_000,
): Promise<{ retries: number }> {
  const seen = acknowledged.get(stream) ?? new Set<string>();
  acknowledged.set(stream, seen);
  let retries = 0;
  for (let first = 0, turn = 0; first < events; first += batch, turn += 1) {
    const ids = Array.from({ length: Math.min(batch, events - first) }, (_, i) => `${stream}-${first + i}`);
    const body = JSON.stringify(ids.map((messageId) => ({ messageId, event: 'cluster', n: messageId })));
    for (let attempt = 0; ; attempt += 1) {
      const url = `${ingests[(turn + attempt) % ingests.length]}/v1/streams/${stream}/events`;
      const answer = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined);
      if (answer?.status === 202) {
        await answer.body?.cancel();
        for (const id of ids) seen.add(id);
        break;
      }
      await answer?.body?.cancel();
      if (answer && answer.status !== 503) throw new Error(`${url} answered ${answer.status}`);
      if (Date.now() > deadline) throw new Error(`${stream}: no 202 before the deadline`);
      retries += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { retries };
}

/** The flush queue's jobs by state, and each active job's lock: what a stuck flush looks like. */
async function describeQueue(redis: RedisClient): Promise<string> {
  const queue = `${queuePrefix()}:${FLUSH_QUEUE}`;
  const [waiting, delayed, active] = await Promise.all([
    redis.llen(`${queue}:wait`),
    redis.zcard(`${queue}:delayed`),
    redis.lrange(`${queue}:active`, 0, -1),
  ]);
  const locks = await Promise.all(active.map((id) => redis.pttl(`${queue}:${id}:lock`)));
  const held = active.map((id, i) => `${id} (lock ${locks[i] === -2 ? 'gone' : `${locks[i]} ms`})`);
  return `${waiting} waiting, ${delayed} delayed, active: ${held.join(', ') || 'none'}`;
}

/** How often each acknowledged messageId landed, and what landed that nobody was told about. */
export interface LandingCount {
  landed: number;
  lost: string[];
  duplicated: string[];
  unexpected: string[];
}

/**
 * Waits until every stream landed what it accepted (a sharded stream: name its buffer units in
 * `units`; a namespace other than the default: name it), then counts each event in S3 by messageId.
 */
export async function countLanded(
  redis: RedisClient,
  s3: S3Client,
  bucket: string,
  acknowledged: Acknowledged,
  { units = [...acknowledged.keys()], namespace }: { units?: string[]; namespace?: string } = {},
): Promise<LandingCount> {
  const streams = [...acknowledged.keys()];
  await waitUntilLanded(redis, units, { timeoutMs: 60_000, namespace }).catch(async (error: Error) => {
    throw new Error(`${error.message}; the flush queue: ${await describeQueue(redis)}`);
  });
  const counts = new Map<string, number>();
  for (const stream of streams) {
    for (const key of await listObjectKeys(s3, bucket, `stream=${stream}/`)) {
      for (const line of (await readSpoolObject(s3, bucket, key)).lines) {
        const id = (JSON.parse(line) as { messageId: string }).messageId;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
    }
  }
  const all = new Set(streams.flatMap((stream) => [...(acknowledged.get(stream) ?? [])]));
  return {
    landed: [...counts.values()].reduce((sum, n) => sum + n, 0),
    lost: [...all].filter((id) => !counts.has(id)),
    duplicated: [...counts].filter(([, n]) => n > 1).map(([id]) => id),
    unexpected: [...counts.keys()].filter((id) => !all.has(id)),
  };
}
