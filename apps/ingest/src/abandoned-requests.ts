import { setImmediate } from 'node:timers/promises';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';

/**
 * A request's client, as the group commit asks about it just before its events are appended: an
 * ingest that stood still (a process frozen, a VM paused) with a request in hand, whose client
 * gave up, closed the connection and retried through another ingest, came back after
 * DEDUPE_WINDOW, when the retry's ids were forgotten, and stored the events a second time (a
 * review's run). Such a request, held past half the window with its client gone, stores nothing
 * (`499 SPOOL_CLIENT_GONE`): its client took it for failed.
 */
export interface RequestClient {
  /** How long the request has been in this ingest (ms, a monotonic clock: reply.elapsedTime). */
  elapsedMs(): number;
  /** Whether its connection is closed: no answer reaches the client. */
  gone(): boolean;
  log: FastifyBaseLogger;
}

/** A Fastify request's client. */
export function requestClient(request: FastifyRequest, reply: FastifyReply): RequestClient {
  return {
    elapsedMs: () => reply.elapsedTime,
    // The client closed its side (FIN) or reset it: Node then sends no answer (its HTTP server
    // does not allow half-open connections).
    gone: () => request.raw.socket?.destroyed === true || request.raw.socket?.readableEnded === true,
    log: request.log,
  };
}

/**
 * Of `members`, those whose clients are gone and that have been held past half `dedupeWindowMs`
 * (none when dedupe is off). Costs nothing unless one was held that long: then the clients'
 * closes, sent after the bodies' last bytes, are heard first, as libuv reads them a turn of the
 * event loop after those (it stops reading at a read short of its buffer). Half: the window is
 * counted on Redis's clock, from the retry's own append.
 */
export async function abandoned<T extends { client?: RequestClient }>(
  members: readonly T[],
  dedupeWindowMs: number,
): Promise<Set<T>> {
  const late = members.filter(
    ({ client }) => client && dedupeWindowMs > 0 && client.elapsedMs() > dedupeWindowMs / 2,
  );
  if (late.length === 0) return new Set();
  await setImmediate();
  await setImmediate();
  const gone = new Set(late.filter(({ client }) => client?.gone()));
  for (const { client } of gone) {
    // No answer reaches anyone, to be counted or logged: said here.
    client?.log.warn(
      { waitedMs: Math.round(client.elapsedMs()) },
      'a request held past half DEDUPE_WINDOW lost its client: its events not yet appended are not stored (its retry may be stored already)',
    );
  }
  return gone;
}
