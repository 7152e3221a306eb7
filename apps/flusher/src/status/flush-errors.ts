import {
  escapeActing,
  lastFlushErrorKey,
  legacyLastFlushErrorKey,
  type RedisClient,
  redisNow,
} from '@spool/shared';
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

/** An error's name past this is cut (the AWS SDK names an S3 error by the `<Code>` the store sent). */
const MAX_NAME = 100;
/** A stack's frames past this are cut. */
const MAX_FRAMES = 8 * 1024;
/** An error's own text, bounded each by its own rule. */
const OWN_TEXT = new Set(['name', 'message', 'stack']);

/**
 * `error` with its name, its message, its stack and its other text fields bounded: BullMQ keeps a failed attempt's
 * message and the last 5 stacks in the job, in Redis, and the log line carries both. An S3 that
 * answered with a 100 KB `<Message>` made one job 1.15 MB (a review's run); one with a 100 KB
 * `<Code>`, which becomes the error's name, a stack of 100 KB each. The name and the message have
 * their acting characters escaped too (escapeActing): Bull Board at /queues shows a job's error as
 * it is, and S3's message with a U+202E read as "uploads are landing normally" there (a review's
 * run). Changed in place where it can be; an error that cannot be changed (frozen) is replaced by
 * an Error of the bounded text.
 */
export function withBoundedMessage(thrown: unknown): unknown {
  // An Error of another realm (a DOMException) is no `instanceof Error`; its text is as long.
  const errorLike =
    thrown instanceof Error ||
    (typeof thrown === 'object' && thrown !== null && typeof (thrown as Error).message === 'string');
  if (!errorLike) return thrown;
  const error = thrown as Error;
  const { name = 'Error', message } = error;
  const stack = typeof error.stack === 'string' ? error.stack : '';
  // The AWS SDK also copies the store's answer into fields of its own (`Code`), which the log
  // writes out.
  const longFields = Object.entries(error).filter(
    ([field, value]) => !OWN_TEXT.has(field) && typeof value === 'string' && value.length > MAX_MESSAGE,
  );
  const cut = (text: string, most: number) => (text.length > most ? `${text.slice(0, most)}…` : text);
  const boundedName = escapeActing(cut(name, MAX_NAME));
  const boundedMessage = escapeActing(cut(message, MAX_MESSAGE));
  if (
    boundedName === name &&
    boundedMessage === message &&
    stack.length <= MAX_MESSAGE + MAX_FRAMES &&
    longFields.length === 0
  ) {
    return error;
  }
  // The frames, from the first; the head before them repeats the name and the message.
  const firstFrame = stack.indexOf('\n    at ');
  const frames = firstFrame === -1 ? '' : cut(stack.slice(firstFrame), MAX_FRAMES);
  const boundedStack = `${boundedName}: ${boundedMessage}${frames}`;
  try {
    if (error.name !== boundedName) error.name = boundedName;
    if (error.message !== boundedMessage) error.message = boundedMessage;
    error.stack = boundedStack;
    for (const [field, value] of longFields) {
      (error as unknown as Record<string, unknown>)[field] = cut(value as string, MAX_MESSAGE);
    }
  } catch {
    // Frozen, or a getter without a setter: checked below.
  }
  if (error.name === boundedName && error.message === boundedMessage && error.stack === boundedStack)
    return error;
  const replacement = new Error(boundedMessage);
  replacement.name = boundedName;
  replacement.stack = boundedStack;
  return replacement;
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

/** The last failed flush attempt: the newer of its key's and, in a rolling upgrade, the older flushers' key's. */
export async function readLastFlushError(
  redis: RedisClient,
  namespace: string,
): Promise<FlushErrorRecord | null> {
  // Two GETs: on a Cluster the keys are in different slots. The old one's unread (its slot's master
  // away) is no record: it made every reading of the status fail, with no older flusher running.
  const [current, legacy] = await Promise.all([
    redis.get(lastFlushErrorKey(namespace)),
    redis.get(legacyLastFlushErrorKey(namespace)).catch(() => null),
  ]);
  const records = [flushErrorRecordOf(current), flushErrorRecordOf(legacy)].filter(
    (record): record is FlushErrorRecord => record !== null,
  );
  return records.reduce<FlushErrorRecord | null>(
    (newest, record) => (newest === null || record.at > newest.at ? record : newest),
    null,
  );
}

/** A record's text as a record; none for no text, or text written by hand or by another version. */
export function flushErrorRecordOf(text: string | null): FlushErrorRecord | null {
  if (text === null) return null;
  // Such a text made every reading of the status fail (and the page blame Redis) until the next
  // flush error replaced it.
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
