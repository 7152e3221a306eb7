import type { Logger } from 'pino';
import { hasReachedRedis } from './redis-connection.js';
import { tlsMismatchHint } from './redis-target.js';

export interface RepeatedLogOptions {
  /** `warn` unless told. */
  level?: 'info' | 'warn' | 'error';
  everyMs?: number;
  /** Fields of every line. */
  fields?: Record<string, unknown>;
}

/** The repeated lines whose window holds repeats not yet told: told by flushRepeatedLogs. */
const pendingWindows = new Set<() => void>();

/**
 * Tells now the repeats every repeated line holds (at shutdown, before `stopped`): a window cut
 * short by the process's end lost them (an own-fix review's 5 refused admin requests).
 */
export function flushRepeatedLogs(): void {
  for (const tell of [...pendingWindows]) tell();
}

/**
 * A line that may come thousands of times a second, logged the first time and then once per
 * `everyMs` with how many came meanwhile (`repeatedSinceLastLine`); each call may add fields of
 * its own (those of the lines left out are lost). BullMQ's worker asks Redis for its next job
 * again at once after an answer that is not a lost connection: with Redis at `maxmemory` it is
 * refused OOM each time, and a review's flusher logged 2,200 `worker error` lines a second.
 *
 * A window's repeats are logged as it ends, whether more come or not: they were told only with
 * the next line, so the last 10 s of an outage were never counted, and the logs fell a third
 * short of the failure metrics. A window with none after a burst says so, at info (`stopped`,
 * with the burst's count): the logs then tell when an outage ended (a review of the logs).
 */
export function repeatedLog(
  logger: Pick<Logger, 'warn' | 'error' | 'info'>,
  message: string,
  { level = 'warn', everyMs = 10_000, fields = {} }: RepeatedLogOptions = {},
) {
  let lastLoggedAt = Number.NEGATIVE_INFINITY;
  let since = 0;
  /** The lines' occurrences since the burst began (its first line). */
  let burst = 0;
  let last: { error: unknown; own: Record<string, unknown> } = { error: undefined, own: {} };
  let windowEnd: ReturnType<typeof setTimeout> | undefined;

  const log = (error: unknown, own: Record<string, unknown>, repeated: number): void => {
    logger[level](
      { ...fields, ...own, err: error, ...(repeated > 0 ? { repeatedSinceLastLine: repeated } : {}) },
      message,
    );
    lastLoggedAt = performance.now();
    since = 0;
    pendingWindows.delete(tellRepeats);
    clearTimeout(windowEnd);
    windowEnd = setTimeout(endOfWindow, everyMs);
    windowEnd.unref?.();
  };
  const tellRepeats = (): void => {
    if (since > 0) log(last.error, last.own, since - 1);
  };
  const endOfWindow = (): void => {
    windowEnd = undefined;
    // The last of the window's repeats stands for them all: it is the line, the rest its count.
    if (since > 0) {
      tellRepeats();
      return;
    }
    if (burst > 1) {
      logger.info({ ...fields, occurrences: burst }, `${message}: stopped, none for ${everyMs / 1_000} s`);
    }
    burst = 0;
  };

  return (error: unknown, own: Record<string, unknown> = {}): void => {
    burst += 1;
    // A monotonic clock, as every interval of Spool's processes: with Date.now(), a wall clock
    // stepped back an hour silenced these lines, and limited reconnects off a replica, that long
    // (a review's run).
    if (performance.now() - lastLoggedAt < everyMs) {
      since += 1;
      last = { error, own };
      pendingWindows.add(tellRepeats);
      return;
    }
    log(error, own, since);
  };
}

/** The most keys a repeatedLogPerKey keeps a line's state for; past it, it starts afresh. */
const MAX_KEYS = 64;

export type RepeatedLog = ReturnType<typeof repeatedLog>;

/**
 * A repeatedLog for each key (a client; an operation and its cause), made by `make` the first
 * time the key comes. Keys come from errors, so they are bounded: past MAX_KEYS the states are
 * dropped, and a line may come again sooner than its `everyMs`, never more often.
 */
export function repeatedLogPerKey() {
  const logs = new Map<string, RepeatedLog>();
  return (key: string, make: () => RepeatedLog): RepeatedLog => {
    let log = logs.get(key);
    if (!log) {
      if (logs.size >= MAX_KEYS) logs.clear();
      log = make();
      logs.set(key, log);
    }
    return log;
  };
}

/**
 * `redis connection error`, said as a repeatedLog of each client: while Redis is away, every
 * reconnect attempt of every client is an error, with its stack: a Cluster client tries about
 * 10 times a second for minutes (ioredis's clusterRetryStrategy), the ingest's once a second.
 * With `hint`, when the error looks like a TLS mismatch (`tlsMismatchHint`), what to change.
 */
export function redisConnectionWarnings(
  logger: Pick<Logger, 'warn' | 'error' | 'info'>,
  {
    tls = false,
    reached = hasReachedRedis,
  }: {
    tls?: boolean;
    /** Whether the process has reached Redis once: then no error is a TLS mismatch. */
    reached?: () => boolean;
  } = {},
) {
  const ofClient = repeatedLogPerKey();
  return (error: Error, client: string): void => {
    // A reset or a timed-out reconnect of a connection that worked told the operator to change
    // the scheme (a review's runs: a load balancer's idle reset, a TLS Redis stopped).
    const hint = reached() ? undefined : tlsMismatchHint(error, tls);
    ofClient(client, () => repeatedLog(logger, 'redis connection error', { fields: { client } }))(
      error,
      hint ? { hint } : {},
    );
  };
}
