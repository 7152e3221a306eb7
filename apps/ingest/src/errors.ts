import createError from '@fastify/error';

/**
 * Every error the ingest API answers with. Codes are stable and never reused: clients and
 * dashboards match on them. The HTTP API reference (docs/api.md) lists them.
 */
export const errors = {
  SPOOL_INVALID_JSON: createError('SPOOL_INVALID_JSON', 'Body is not valid JSON: %s', 400),
  SPOOL_INVALID_UTF8: createError('SPOOL_INVALID_UTF8', 'Body is not valid UTF-8', 400),
  SPOOL_BAD_GZIP: createError('SPOOL_BAD_GZIP', 'Body is not a valid gzip stream: %s', 400),
  SPOOL_EMPTY_BATCH: createError('SPOOL_EMPTY_BATCH', 'The request holds no events', 400),
  SPOOL_INVALID_STREAM: createError(
    'SPOOL_INVALID_STREAM',
    'Stream name "%s" is invalid: use 1 to 64 of a-z, 0-9, "_" and "-", starting with a letter or digit',
    400,
  ),
  SPOOL_INVALID_EVENT: createError('SPOOL_INVALID_EVENT', '%s', 400),
  SPOOL_NOT_FOUND: createError(
    'SPOOL_NOT_FOUND',
    'No route %s %s: events go to POST /v1/streams/:stream/events, or the Segment-compatible /v1/track, /v1/batch, …',
    404,
  ),
  SPOOL_INVALID_BATCH: createError('SPOOL_INVALID_BATCH', 'The body must be {"batch": [...]}: %s', 400),
  SPOOL_NO_VALID_EVENTS: createError(
    'SPOOL_NO_VALID_EVENTS',
    'No event in the batch is valid (event %d: %s)',
    400,
  ),
  SPOOL_BAD_REQUEST: createError('SPOOL_BAD_REQUEST', 'The request is not valid: %s', 400),
  SPOOL_UNAUTHORIZED: createError('SPOOL_UNAUTHORIZED', '%s', 401),
  SPOOL_FORBIDDEN: createError('SPOOL_FORBIDDEN', 'This write key may not write to stream "%s"', 403),
  SPOOL_BODY_TOO_LARGE: createError(
    'SPOOL_BODY_TOO_LARGE',
    'Body is larger than %d bytes (after decompression)',
    413,
  ),
  SPOOL_EVENT_TOO_LARGE: createError('SPOOL_EVENT_TOO_LARGE', '%s', 413),
  SPOOL_TOO_MANY_EVENTS: createError(
    'SPOOL_TOO_MANY_EVENTS',
    'The request holds %d events; MAX_EVENTS_PER_REQUEST allows %d',
    413,
  ),
  SPOOL_REQUEST_TOO_LARGE: createError(
    'SPOOL_REQUEST_TOO_LARGE',
    "The request's events would take more than %d bytes as stored (2 × MAX_BODY_BYTES, server fields included)",
    413,
  ),
  SPOOL_UNSUPPORTED_MEDIA_TYPE: createError(
    'SPOOL_UNSUPPORTED_MEDIA_TYPE',
    'Content-Type must be application/json, application/x-ndjson or text/plain, in UTF-8',
    415,
  ),
  SPOOL_UNSUPPORTED_ENCODING: createError(
    'SPOOL_UNSUPPORTED_ENCODING',
    'Content-Encoding "%s" is not supported: use gzip or none',
    415,
  ),
  SPOOL_CLIENT_GONE: createError(
    'SPOOL_CLIENT_GONE',
    'The client closed the connection, and the request waited here longer than half DEDUPE_WINDOW: its retry may be stored already, and its messageIds forgotten; nothing stored',
    499,
  ),
  SPOOL_RATE_LIMITED: createError('SPOOL_RATE_LIMITED', 'Rate limit exceeded: retry in %s', 429),
  SPOOL_BUFFER_FULL: createError(
    'SPOOL_BUFFER_FULL',
    'Stream "%s" holds %d bytes in Redis, and this request would pass MAX_BUFFER_BYTES: retry later',
    503,
  ),
  SPOOL_REDIS_FULL: createError(
    'SPOOL_REDIS_FULL',
    'Redis is within REDIS_MEMORY_RESERVE of its maxmemory: nothing was stored; retry later',
    503,
  ),
  SPOOL_REDIS_UNAVAILABLE: createError(
    'SPOOL_REDIS_UNAVAILABLE',
    'The event store is unavailable or did not confirm the append: retry (the events may be stored; a retry with the same messageIds is not stored twice)',
    503,
  ),
  SPOOL_PARTLY_STORED: createError(
    'SPOOL_PARTLY_STORED',
    'Stream "%s": some of the events were stored and the others refused (a shard\'s buffer is full, or Redis did not confirm): retry with the same messageIds, and the stored ones are answered as duplicates',
    503,
  ),
  SPOOL_SHUTTING_DOWN: createError('SPOOL_SHUTTING_DOWN', 'This instance is shutting down: retry', 503),
  SPOOL_OVERLOADED: createError(
    'SPOOL_OVERLOADED',
    'This instance holds MAX_INFLIGHT_BYTES of request bodies: retry shortly',
    503,
  ),
} as const;

export type SpoolErrorCode = keyof typeof errors;

/** Seconds a client should wait before retrying a 503, by cause. */
export const RETRY_AFTER_SECONDS = { bufferFull: 5, redisUnavailable: 1 } as const;

/**
 * The answer to a stream name that is not one, quoting its first 80 characters: half of a
 * character cut there (an emoji's lone surrogate, which strict JSON readers refuse) as U+FFFD.
 */
export function invalidStream(name: string) {
  return new errors.SPOOL_INVALID_STREAM(name.slice(0, 80).toWellFormed());
}
