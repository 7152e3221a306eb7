/**
 * The one place Redis key strings are built. Every key of a stream is hash-tagged with the stream
 * name (`{<stream>}`), so all of them live in one Redis Cluster slot and one Lua script may touch
 * them together. `<ns>` is REDIS_NAMESPACE (default `spool`): deployments (or test runs) with
 * different namespaces share a Redis without seeing each other.
 *
 * | key                                 | type    | meaning                                                      |
 * | ----------------------------------- | ------- | ------------------------------------------------------------ |
 * | `<ns>:{<stream>}:buf`               | string  | the active buffer: one JSON event per line, `\n`-terminated   |
 * | `<ns>:{<stream>}:gen`               | integer | generation of the active buffer (absent = 0)                 |
 * | `<ns>:{<stream>}:since`             | integer | ms timestamp of the first append into the active buffer      |
 * | `<ns>:{<stream>}:sealed:<gen>`      | string  | a buffer taken out of service, waiting for (or in) upload     |
 * | `<ns>:{<stream>}:sealed:<gen>:meta` | hash    | `since` of the sealed buffer (the S3 key derives from it)     |
 * | `<ns>:{<stream>}:pending`           | set     | sealed generations not yet released (read by the sweep)      |
 * | `<ns>:{<stream>}:sealed-bytes`      | integer | bytes in sealed generations (counted against MAX_BUFFER_BYTES) |
 * | `<ns>:{<stream>}:stats`             | hash    | `accepted`, `landed` and `duplicates` event counters         |
 * | `<ns>:{<stream>}:seen:<ms>:<n>`     | set     | messageIds accepted in time bucket n of <ms> (dedupe; expires as a whole) |
 * | `<ns>:{<stream>}:seen:widths`       | hash    | bucket width (ms) -> expiry of its newest set: the widths still looked up |
 * | `{<ns>}:stream-registry`            | zset    | streams in use, scored by their last registration (ms, Redis's clock); read by the sweep |
 * | `{<ns>}:sweep-lease`                | string  | held for one sweep tick by the flusher that sweeps it           |
 * | `{<ns>}:flusher-alive`              | string  | set by every flusher at every sweep tick, for 2 minutes: the ingests look for it |
 * | `{<ns>}:last-flush-error`           | string  | the last failed flush attempt, any flusher's, for the status page |
 * | `{<ns>}:redis-epoch`                | integer | counted up by every flusher at every sweep tick: lower than a flusher saw, Redis lost data |
 * | `<ns>:stream-registry`              | zset    | the registry of versions before 2026-12-04: the sweep moves it into `{<ns>}:stream-registry` |
 * | `<ns>:streams`                      | set     | the registry of earlier versions still: moved over the same way |
 * | `<ns>:ratelimit:<client>`           | integer | requests in the current rate-limit window (@fastify/rate-limit) |
 *
 * BullMQ's own keys live under the queue prefix `{<ns>}` (one Cluster slot), and so do the keys
 * every stream's sweep needs (registry, lease, last error): a Cluster serving without one of its
 * masters (`cluster-require-full-coverage no`) sweeps every stream left on the others unless it
 * lost the queue's master, which no flush can do without. In slots of their own, as they were, any
 * master lost stopped every sweep when it held one of them.
 */

export const DEFAULT_NAMESPACE = 'spool';

export interface StreamKeys {
  stream: string;
  buf: string;
  gen: string;
  since: string;
  stats: string;
  pending: string;
  sealedBytes: string;
  /** Rejected events kept for S3 (_quarantine/), the newest QUARANTINE_MAX_EVENTS: JSON entries. */
  quarantine: string;
  /** When the quarantine's oldest entry came (ms, Redis's clock): the sweep drains it by age. */
  quarantineSince: string;
  /** Quarantine entries being written to S3, and the id (`<n>:<ms>`) that names their object. */
  quarantineDraining: string;
  quarantineDrainingId: string;
  /** Manifest lines of released objects not yet written to their day's manifest: object key → line. */
  manifestPending: string;
  /** Manifest lines being written to S3, and the id (`<n>:<ms>`) that names their manifest part. */
  manifestDraining: string;
  manifestDrainingId: string;
  /** Prefix of the dedupe sets, `<seen>:<bucketMs>:<n>` (built by the append script). */
  seen: string;
  /** Prefix of the sealed buffers, `<sealedPrefix>:<gen>`. */
  sealedPrefix: string;
  /** A SCAN pattern matching every sealed buffer (and its meta) of the stream: for tools. */
  sealedPattern: string;
  sealed(gen: number): string;
  sealedMeta(gen: number): string;
}

export function streamKeys(stream: string, namespace = DEFAULT_NAMESPACE): StreamKeys {
  const base = `${namespace}:{${stream}}`;
  return {
    stream,
    buf: `${base}:buf`,
    gen: `${base}:gen`,
    since: `${base}:since`,
    stats: `${base}:stats`,
    pending: `${base}:pending`,
    sealedBytes: `${base}:sealed-bytes`,
    manifestPending: `${base}:manifest-pending`,
    quarantine: `${base}:quarantine`,
    quarantineSince: `${base}:quarantine-since`,
    quarantineDraining: `${base}:quarantine-draining`,
    quarantineDrainingId: `${base}:quarantine-draining-id`,
    manifestDraining: `${base}:manifest-draining`,
    manifestDrainingId: `${base}:manifest-draining-id`,
    seen: `${base}:seen`,
    sealedPrefix: `${base}:sealed`,
    sealedPattern: `${base}:sealed:*`,
    sealed: (gen) => `${base}:sealed:${gen}`,
    sealedMeta: (gen) => `${base}:sealed:${gen}:meta`,
  };
}

/** The BullMQ queue prefix: a hash tag, so all of the queue's keys share one Cluster slot. */
export function queuePrefix(namespace = DEFAULT_NAMESPACE): string {
  return `{${namespace}}`;
}

/** The streams in use, scored by their last registration: what the sweep visits. In the queue's slot. */
export function streamRegistryKey(namespace = DEFAULT_NAMESPACE): string {
  return `${queuePrefix(namespace)}:stream-registry`;
}

/** Set, with an expiry, while the sweep's last look for units the registry lacks is recent. */
export function registryRecoveryKey(namespace = DEFAULT_NAMESPACE): string {
  return `${queuePrefix(namespace)}:registry-recovery`;
}

/**
 * Where earlier versions registered streams, each in a slot of its own; the sweep moves them into
 * the registry (legacy-streams.ts): the registry before it moved into the queue's slot, and the
 * plain set before the registry.
 */
export function legacyRegistryKeys(namespace = DEFAULT_NAMESPACE): { registry: string; streams: string } {
  return { registry: `${namespace}:stream-registry`, streams: `${namespace}:streams` };
}

/** The last failed flush attempt, any flusher's, for the status page (JSON: message, stream, time). */
export function lastFlushErrorKey(namespace = DEFAULT_NAMESPACE): string {
  return `${queuePrefix(namespace)}:last-flush-error`;
}

/**
 * Where flushers before 2026-12-04 recorded it: still read beside it during a rolling upgrade, and
 * deleted by the sweep once what it holds is older than a stream is remembered (legacy-streams.ts).
 */
export function legacyLastFlushErrorKey(namespace = DEFAULT_NAMESPACE): string {
  return `${namespace}:last-flush-error`;
}

/** Held by the flusher that sweeps this tick (sweep-timer.ts). */
export function sweepLeaseKey(namespace = DEFAULT_NAMESPACE): string {
  return `${queuePrefix(namespace)}:sweep-lease`;
}

/**
 * Set by every flusher at each of its sweep ticks, sweeping or not, to expire 2 minutes on
 * (sweep-timer.ts): there, a flusher runs on the namespace; the ingests look for it
 * (flusher-watch.ts). Not the lease, which lasts a tick and is held by one flusher: a look every
 * 10 s fell between a 5 s lease's ticks every time.
 */
export function flusherAliveKey(namespace = DEFAULT_NAMESPACE): string {
  return `${queuePrefix(namespace)}:flusher-alive`;
}

/**
 * A number every flusher counts up at each sweep tick: one no higher than a flusher saw last, Redis
 * went back in time (a restart without AOF or from an older snapshot, a FLUSHALL, a failover to a
 * replica without the latest writes).
 */
export function redisEpochKey(namespace = DEFAULT_NAMESPACE): string {
  return `${queuePrefix(namespace)}:redis-epoch`;
}

/** What @fastify/rate-limit puts before its client keys (a digest of the write key, or `ip:<address>`). */
export function rateLimitNamespace(namespace = DEFAULT_NAMESPACE): string {
  return `${namespace}:ratelimit:`;
}
