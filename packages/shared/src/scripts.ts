import { readFileSync } from 'node:fs';
import type { Cluster, Redis, Result } from 'ioredis';
import type { StreamKeys } from './keys.js';

/**
 * The Lua scripts of the Redis protocol (lua/*.lua, named `<name>-<numberOfKeys>.lua`), registered
 * on a client with `defineCommand` and typed for callers below.
 */

function lua(file: string): string {
  // `../lua/` from both src/ (tests) and dist/ (built code).
  return readFileSync(new URL(`../lua/${file}`, import.meta.url), 'utf8');
}

const COMMANDS = {
  spoolAppend: { numberOfKeys: 5, lua: lua('append-5.lua') },
  spoolSeal: { numberOfKeys: 7, lua: lua('seal-7.lua') },
  spoolRelease: { numberOfKeys: 5, lua: lua('release-5.lua') },
} as const;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    spoolAppend(
      buf: string,
      gen: string,
      since: string,
      stats: string,
      sealedBytes: string,
      chunk: string | Buffer,
      eventCount: number,
      maxBytes: number,
      nowMs: number,
    ): Result<number[], Context>;
    spoolSeal(
      buf: string,
      gen: string,
      since: string,
      sealed: string,
      sealedMeta: string,
      pending: string,
      sealedBytes: string,
      sealGen: number,
      nowMs: number,
    ): Result<number[], Context>;
    spoolRelease(
      sealed: string,
      sealedMeta: string,
      stats: string,
      pending: string,
      sealedBytes: string,
      eventCount: number,
      gen: number,
    ): Result<number, Context>;
  }
}

/** Registers Spool's scripts on a client, once. */
export function defineSpoolCommands(redis: Redis | Cluster): void {
  for (const [name, definition] of Object.entries(COMMANDS)) {
    if (!(name in redis)) redis.defineCommand(name, definition);
  }
}

export type AppendResult =
  | { refused: false; length: number; gen: number; started: boolean }
  | { refused: true; length: number };

/**
 * Appends `chunk` (complete lines) to the stream's active buffer in one atomic step; refuses when
 * the stream's data in Redis (active buffer plus sealed generations awaiting upload) would pass
 * `maxBytes`, answering with what it holds. O(1) in the buffer's size.
 */
export async function appendToBuffer(
  redis: Redis | Cluster,
  keys: StreamKeys,
  chunk: string | Buffer,
  eventCount: number,
  maxBytes: number,
  nowMs: number,
): Promise<AppendResult> {
  const [length = 0, gen = 0, started = 0] = await redis.spoolAppend(
    keys.buf,
    keys.gen,
    keys.since,
    keys.stats,
    keys.sealedBytes,
    chunk,
    eventCount,
    maxBytes,
    nowMs,
  );
  if (length === -1) return { refused: true, length: gen };
  return { refused: false, length, gen, started: started === 1 };
}

/** True when an append that took the buffer to `length` (adding `added` bytes) crossed `threshold`. */
export function crossedThreshold(length: number, added: number, threshold: number): boolean {
  return length - added < threshold && length >= threshold;
}

export type SealResult =
  | { status: 'sealed' | 'resealed'; length: number; since: number }
  | { status: 'nothing'; length: 0 };

/**
 * Seals generation `gen` of the stream: renames the active buffer to `sealed:<gen>` and starts
 * the next generation, atomically. A retry finds its earlier seal (`resealed`); a generation
 * already uploaded or never written gives `nothing`.
 */
export async function sealGeneration(
  redis: Redis | Cluster,
  keys: StreamKeys,
  gen: number,
  nowMs: number,
): Promise<SealResult> {
  const [status = 0, length = 0, since = 0] = await redis.spoolSeal(
    keys.buf,
    keys.gen,
    keys.since,
    keys.sealed(gen),
    keys.sealedMeta(gen),
    keys.pending,
    keys.sealedBytes,
    gen,
    nowMs,
  );
  if (status === 0) return { status: 'nothing', length: 0 };
  return { status: status === 1 ? 'sealed' : 'resealed', length, since };
}

/**
 * Releases generation `gen` after S3 confirmed its object: the sealed buffer goes, and its events
 * count as landed, once. Returns false when an earlier attempt had already released it.
 */
export async function releaseGeneration(
  redis: Redis | Cluster,
  keys: StreamKeys,
  gen: number,
  eventCount: number,
): Promise<boolean> {
  const released = await redis.spoolRelease(
    keys.sealed(gen),
    keys.sealedMeta(gen),
    keys.stats,
    keys.pending,
    keys.sealedBytes,
    eventCount,
    gen,
  );
  return released === 1;
}
