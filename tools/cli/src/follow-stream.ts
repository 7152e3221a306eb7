import type { RedisClient, StreamKeys } from '@spool/shared';

/** What following a stream yields: events as appended, or bytes it could not read in time. */
export type FollowStep =
  | { kind: 'lines'; gen: number; lines: string[] }
  /** A sealed generation was uploaded and released before its rest was read: its object has them. */
  | { kind: 'skipped'; gen: number; fromByte: number }
  /** Generations `from` to `to` were sealed and released before any of them was read. */
  | { kind: 'skippedGenerations'; from: number; to: number }
  /**
   * The buffer went back: its generation is lower (now `gen`), or it is shorter than the
   * `fromByte` bytes read of it (Redis lost writes, or it was emptied). It is followed from its
   * start.
   */
  | { kind: 'restarted'; gen: number; fromByte: number };

export interface FollowOptions {
  /** From the active buffer's first byte, not from its end. */
  fromStart?: boolean;
  pollMs?: number;
  /** The most one read takes, so a step costs at most this whatever the buffer's size. */
  readBytes?: number;
  /**
   * How long reads may keep failing (Redis restarting, a Cluster failing over) before the follow
   * gives up; meanwhile it retries from where it was, losing and repeating nothing.
   */
  outageMs?: number;
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * Follows a stream's buffer by offset: each step reads only the bytes appended since the last
 * (`GETRANGE` from the last length seen), never the whole buffer. The generation and the range are
 * read in one MULTI, so a read never mixes two generations. When the buffer is sealed (the
 * flusher takes it), the rest of that generation is read from its sealed key, then the new buffer
 * from its start: a flush in the middle of a tail loses and repeats nothing. Only when a sealed
 * generation is uploaded and released before its rest was read does a step say what was skipped.
 */
export async function* followStream(
  redis: RedisClient,
  keys: StreamKeys,
  options: FollowOptions = {},
): AsyncGenerator<FollowStep> {
  const { pollMs = 250, readBytes = 1024 * 1024, outageMs = 60_000, signal } = options;
  // The first read fails at once (a wrong address is said, not waited on); later ones are retried.
  const [gen0, length0] = await readGenAndLength(redis, keys);
  let failingSince: number | undefined;
  const retrying = async <T>(read: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        const value = await read();
        failingSince = undefined;
        return value;
      } catch (error) {
        if (error instanceof NotAGeneration) throw error; // not Redis away: waiting changes nothing
        failingSince ??= performance.now();
        if (signal?.aborted || performance.now() - failingSince >= outageMs) throw error;
        await sleep(pollMs, signal);
      }
    }
  };
  let gen = gen0;
  let offset = options.fromStart ? 0 : length0;
  let partial = Buffer.alloc(0);

  const lines = (data: Buffer): string[] => {
    const all = Buffer.concat([partial, data]);
    const end = all.lastIndexOf(0x0a);
    partial = Buffer.from(all.subarray(end + 1));
    return end === -1 ? [] : all.subarray(0, end).toString('utf8').split('\n');
  };

  while (!signal?.aborted) {
    const [current, length, data] = await retrying(() => readActive(redis, keys, offset, readBytes));
    if (current < gen || (current === gen && length < offset)) {
      // The buffer went back (Redis lost writes, or it was emptied): what was read of it is not
      // there any more, and reading on from `offset` would start inside a line. Follow it from
      // its start.
      yield { kind: 'restarted', gen: current, fromByte: offset };
      gen = current;
      offset = 0;
      partial = Buffer.alloc(0);
      continue;
    }
    if (current === gen) {
      if (data.length > 0) {
        offset += data.length;
        const complete = lines(data);
        if (complete.length > 0) yield { kind: 'lines', gen, lines: complete };
        if (data.length === readBytes) continue; // more is there already
      }
      await sleep(pollMs, signal);
      continue;
    }
    // Sealed since the last step: the rest of `gen` is in its sealed key, unless already released.
    // A later generation no longer pending was released before any of it was read (sealing adds
    // a generation to `pending` as it moves `gen` on): said with the whole run up to the next
    // pending one at once, so a generation number that jumps far (set by hand, a restored Redis)
    // is not walked one round trip at a time.
    const pending = await retrying(() => pendingGenerations(redis, keys));
    for (; gen < current && !signal?.aborted; gen += 1, offset = 0, partial = Buffer.alloc(0)) {
      if (offset === 0 && !pending.includes(gen)) {
        const to = Math.min(current, pending.find((g) => g > gen) ?? current) - 1;
        yield { kind: 'skippedGenerations', from: gen, to };
        gen = to;
        continue;
      }
      for (;;) {
        const rest = await retrying(() => readSealed(redis, keys, gen, offset, readBytes));
        if (rest === null) {
          // Released: said skipped unless the release's record shows every byte was read.
          if (!(await retrying(() => readWhole(redis, keys, gen, offset))))
            yield { kind: 'skipped', gen, fromByte: offset };
          break;
        }
        offset += rest.length;
        const complete = lines(rest);
        if (complete.length > 0) yield { kind: 'lines', gen, lines: complete };
        if (rest.length < readBytes) break;
      }
    }
  }
}

async function readGenAndLength(redis: RedisClient, keys: StreamKeys): Promise<[number, number]> {
  const replies = await redis.multi().get(keys.gen).strlen(keys.buf).exec();
  const [[, gen], [, length]] = replies as [[Error | null, string | null], [Error | null, number]];
  return [generationOf(gen, keys), length];
}

/**
 * The generation a `gen` key holds (absent: 0). Anything but a whole number is refused: as NaN it
 * matched no branch of the follow, which then read Redis in a loop as fast as it answered.
 */
function generationOf(text: string | null, keys: StreamKeys): number {
  if (text === null) return 0;
  const gen = Number(text);
  if (/^\d{1,15}$/.test(text) && Number.isSafeInteger(gen)) return gen;
  throw new NotAGeneration(`${keys.gen} holds ${JSON.stringify(text.slice(0, 40))}, not a generation number`);
}

class NotAGeneration extends Error {}

/** The sealed generations not yet released, in order. */
async function pendingGenerations(redis: RedisClient, keys: StreamKeys): Promise<number[]> {
  const members = await redis.smembers(keys.pending);
  return members
    .map(Number)
    .filter(Number.isSafeInteger)
    .sort((a, b) => a - b);
}

/**
 * The generation, the active buffer's length, and its bytes from `offset`, in one transaction
 * (one slot).
 */
async function readActive(
  redis: RedisClient,
  keys: StreamKeys,
  offset: number,
  bytes: number,
): Promise<[number, number, Buffer]> {
  const replies = await redis
    .multi()
    .get(keys.gen)
    .strlen(keys.buf)
    .getrangeBuffer(keys.buf, offset, offset + bytes - 1)
    .exec();
  const [[genError, gen], [lengthError, length], [rangeError, data]] = replies as [
    [Error | null, string | null],
    [Error | null, number],
    [Error | null, Buffer],
  ];
  if (genError || lengthError || rangeError) throw genError ?? lengthError ?? rangeError;
  return [generationOf(gen, keys), length, data];
}

/**
 * Whether generation `gen`, released, was read to its end: the release records the last
 * generation it released and its length (release-6.lua). Unknown (a later one released since)
 * counts as not.
 */
async function readWhole(
  redis: RedisClient,
  keys: StreamKeys,
  gen: number,
  offset: number,
): Promise<boolean> {
  const [releasedGen, releasedBytes] = await redis.hmget(keys.stats, 'releasedGen', 'releasedBytes');
  return releasedGen === String(gen) && releasedBytes !== null && offset >= Number(releasedBytes);
}

/** Bytes of sealed generation `gen` from `offset`; null once it is released (its key gone). */
async function readSealed(
  redis: RedisClient,
  keys: StreamKeys,
  gen: number,
  offset: number,
  bytes: number,
): Promise<Buffer | null> {
  const replies = await redis
    .multi()
    .exists(keys.sealed(gen))
    .getrangeBuffer(keys.sealed(gen), offset, offset + bytes - 1)
    .exec();
  const [[existsError, exists], [rangeError, data]] = replies as [
    [Error | null, number],
    [Error | null, Buffer],
  ];
  // A failed read is no release: taken for one, it said the rest was skipped when it was not.
  if (existsError || rangeError) throw existsError ?? rangeError;
  return exists === 1 ? data : null;
}
