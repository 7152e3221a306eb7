import { DEFAULT_NAMESPACE, type RedisClient, streamKeys } from '@spool/shared';

export interface LandingOptions {
  namespace?: string;
  timeoutMs: number;
  /** Called on every check that finds events still in flight. */
  progress?: (text: string) => void;
  /**
   * Called every 5 s while events are in flight (a flush asked for again): an append a client
   * was told "may be stored" can reach Redis after the last flush was asked for.
   */
  nudge?: () => Promise<void>;
}

const NUDGE_EVERY_MS = 5_000;

/** Events a stream accepted and has not landed yet, and bytes it still holds in Redis. */
export async function inFlight(redis: RedisClient, stream: string, namespace = DEFAULT_NAMESPACE) {
  const keys = streamKeys(stream, namespace);
  const [accepted = null, landed = null] = await redis.hmget(keys.stats, 'accepted', 'landed');
  const held = (await redis.strlen(keys.buf)) + Number((await redis.get(keys.sealedBytes)) ?? 0);
  return {
    events: Number(accepted ?? 0) - Number(landed ?? 0),
    held,
    accepted: Number(accepted ?? 0),
    landed: Number(landed ?? 0),
  };
}

/**
 * Resolves once every stream has landed all it accepted and holds nothing in Redis (its buffer
 * and sealed generations gone): the one way tests and tools wait for S3. Throws after timeoutMs.
 */
export async function waitUntilLanded(
  redis: RedisClient,
  streams: string[],
  options: LandingOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let nudgedAt = performance.now();
  for (;;) {
    let events = 0;
    let held = 0;
    const states: string[] = [];
    for (const stream of streams) {
      const state = await inFlight(redis, stream, options.namespace);
      events += state.events;
      held += state.held;
      if (state.events !== 0 || state.held !== 0) {
        states.push(
          `${stream}: accepted ${state.accepted}, landed ${state.landed}, ${state.held} bytes in Redis`,
        );
      }
    }
    if (states.length === 0) return;
    options.progress?.(`waiting for ${events} events (${held} bytes in Redis) to land in S3`);
    if (Date.now() > deadline) {
      throw new Error(
        `${events} accepted events had not landed after ${options.timeoutMs} ms (${states.join('; ')})`,
      );
    }
    if (options.nudge && performance.now() - nudgedAt >= NUDGE_EVERY_MS) {
      nudgedAt = performance.now();
      await options.nudge();
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
