/**
 * The one place Redis key strings are built. Every key of a stream is hash-tagged with the stream
 * name (`{<stream>}`), so all of them live in one Redis Cluster slot and one Lua script may touch
 * them together.
 *
 * | key                                 | type    | meaning                                                    |
 * | ----------------------------------- | ------- | ---------------------------------------------------------- |
 * | `spool:{<stream>}:buf`              | string  | the active buffer: one JSON event per line, `\n`-terminated |
 * | `spool:{<stream>}:gen`              | integer | generation of the active buffer (absent = 0)               |
 * | `spool:{<stream>}:since`            | integer | ms timestamp of the first append into the active buffer    |
 * | `spool:{<stream>}:sealed:<gen>`     | string  | a buffer taken out of service, waiting for (or in) upload   |
 * | `spool:{<stream>}:sealed:<gen>:meta`| hash    | `since` of the sealed buffer (the S3 key derives from it)   |
 * | `spool:{<stream>}:pending`          | set     | sealed generations not yet released (read by the sweep)    |
 * | `spool:{<stream>}:sealed-bytes`     | integer | bytes in sealed generations (counted against MAX_BUFFER_BYTES) |
 * | `spool:{<stream>}:stats`            | hash    | `accepted` and `landed` event counters                     |
 * | `spool:streams`                     | set     | every stream ever written (read by the sweep)              |
 * | `spool:ratelimit:<client>`          | integer | requests in the current rate-limit window (@fastify/rate-limit) |
 *
 * BullMQ's own keys live under the queue prefix `{spool}` (see queue.ts).
 */

export const STREAMS_KEY = 'spool:streams';

/** Prefix @fastify/rate-limit puts before its client keys (a hash of the write key, or `ip:<address>`). */
export const RATE_LIMIT_NAMESPACE = 'spool:ratelimit:';

export interface StreamKeys {
  buf: string;
  gen: string;
  since: string;
  stats: string;
  pending: string;
  sealedBytes: string;
  sealed(gen: number): string;
  sealedMeta(gen: number): string;
}

export function streamKeys(stream: string): StreamKeys {
  const base = `spool:{${stream}}`;
  return {
    buf: `${base}:buf`,
    gen: `${base}:gen`,
    since: `${base}:since`,
    stats: `${base}:stats`,
    pending: `${base}:pending`,
    sealedBytes: `${base}:sealed-bytes`,
    sealed: (gen) => `${base}:sealed:${gen}`,
    sealedMeta: (gen) => `${base}:sealed:${gen}:meta`,
  };
}
