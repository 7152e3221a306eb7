import { lastFlushErrorKey, type RedisClient, redisNow } from '@spool/shared';
import { z } from 'zod';

const flushErrorRecord = z.object({
  /** The error's class and message (truncated): S3's or Redis's answer, never event data. */
  type: z.string(),
  message: z.string(),
  stream: z.string(),
  at: z.iso.datetime(),
});

export type FlushErrorRecord = z.infer<typeof flushErrorRecord>;

const MAX_MESSAGE = 300;

/**
 * `error` with its message, and the stack's copy of it, cut to MAX_MESSAGE: BullMQ keeps a failed
 * attempt's message and the last 5 stacks in the job, in Redis, and an S3 that answered with a
 * 100 KB `<Message>` made one job 1.15 MB there (a review's run). Changed in place.
 */
export function withBoundedMessage(error: unknown): unknown {
  if (!(error instanceof Error) || error.message.length <= MAX_MESSAGE) return error;
  const head = `${error.name}: ${error.message}`;
  const cut = `${error.message.slice(0, MAX_MESSAGE)}…`;
  const frames = error.stack?.startsWith(head) ? error.stack.slice(head.length) : '';
  error.message = cut;
  error.stack = `${error.name}: ${cut}${frames}`;
  return error;
}

/**
 * Records a failed flush attempt where every flusher's status page sees it. Best effort: when
 * Redis is what failed, the record may not be written, and the failure is logged anyway.
 */
export async function recordFlushError(
  redis: RedisClient,
  namespace: string,
  stream: string,
  error: unknown,
): Promise<void> {
  // Redis's clock, as the release's lastLandedAt: the status compares the two (landedSince).
  // This process's when Redis does not answer (the record is then unlikely to be written anyway).
  const at = await redisNow(redis).catch(() => Date.now());
  const record: FlushErrorRecord = {
    type: error instanceof Error ? error.name : typeof error,
    message: (error instanceof Error ? error.message : String(error)).slice(0, MAX_MESSAGE),
    stream,
    at: new Date(at).toISOString(),
  };
  await redis.set(lastFlushErrorKey(namespace), JSON.stringify(record)).catch(() => {});
}

export async function readLastFlushError(
  redis: RedisClient,
  namespace: string,
): Promise<FlushErrorRecord | null> {
  const text = await redis.get(lastFlushErrorKey(namespace));
  if (text === null) return null;
  // A value written by hand or by another version is passed over, as no record: it made every
  // reading of the status fail (and the page blame Redis) until the next flush error replaced it.
  const record = flushErrorRecord.safeParse(parseJson(text));
  return record.success ? record.data : null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
