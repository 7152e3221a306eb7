import { setImmediate } from 'node:timers/promises';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { ParsedBody } from '../body/parse-body.js';
import { type Lines, type RejectedEvent, refusalOf } from '../body/to-lines.js';
import { errors } from '../errors.js';
import { type GroupCommit, storedEventsOf } from '../group-commit.js';
import type { IngestMetrics } from '../metrics.js';

/** What an accepted request's answer reports of its events, on either API. */
export interface StoredCounts {
  accepted: number;
  duplicates: number;
  rejected: RejectedEvent[];
  rejectedCount: number;
}

export interface StoreDeps {
  groupCommit: GroupCommit;
  metrics: IngestMetrics;
  /** DEDUPE_WINDOW: how long a stored messageId is remembered (0: dedupe off). */
  dedupeWindowMs: number;
}

/** The request whose events are stored, as storeLines sees it. */
export interface StoringRequest {
  id: string;
  /** When it was received (ISO 8601), for the quarantine's entries. */
  at: string;
  /** How long it has been in this ingest (ms, on a monotonic clock: Fastify's reply.elapsedTime). */
  elapsedMs(): number;
  /** Whether its connection is closed: no answer reaches the client. */
  clientGone(): boolean;
  log: FastifyBaseLogger;
}

/**
 * The step both event APIs end with: refuses the request when none of its events is valid (with
 * its first event's problem); else appends the others. Counts its events by outcome once the
 * answer is final (a 202, or the 400 or 413 of its first event's problem): a request refused with a 503 is retried, and counted then.
 */
export async function storeLines(
  { groupCommit, metrics, dedupeWindowMs }: StoreDeps,
  stream: string,
  shape: ParsedBody['shape'],
  lines: Lines,
  request: StoringRequest,
): Promise<StoredCounts> {
  // A request held here past half DEDUPE_WINDOW (a process frozen, a VM paused), whose client
  // closed the connection: the client took it for failed, and its retry, stored through another
  // ingest, may be past dedupe's memory by now. Stored as well, its events were stored twice (a
  // review's run). No answer reaches that client; nothing is stored. Half: the window is counted
  // on Redis's clock, from the retry's own append.
  if (dedupeWindowMs > 0 && request.elapsedMs() > dedupeWindowMs / 2) {
    // The client's close, sent after the body's last bytes, is heard first: libuv reads it a turn
    // of the event loop after them (it stops reading at a read short of its buffer).
    await setImmediate();
    await setImmediate();
    if (request.clientGone()) {
      // No answer to count or log reaches anyone: said here.
      request.log.warn(
        { waitedMs: Math.round(request.elapsedMs()) },
        'a request held past half DEDUPE_WINDOW lost its client: its events are not stored (its retry may be stored already)',
      );
      throw new errors.SPOOL_CLIENT_GONE();
    }
  }
  const [first] = lines.rejected;
  // Recorded on the stream (counted and quarantined) only once it has stored an event
  // (reject-3.lua): after the append, so the request that creates the stream records its own.
  if (lines.count === 0) {
    metrics.countEvents(stream, { rejected: lines.rejectedCount });
    if (lines.rejectedCount > 0) await groupCommit.recordRejected(stream, lines, request, false);
    throw first ? refusalOf(shape, first) : new errors.SPOOL_EMPTY_BATCH();
  }
  let duplicates: number;
  try {
    ({ duplicates } = await groupCommit.append(stream, lines));
  } catch (error) {
    // Some shards stored events, which the retry answers as duplicates: their storing is counted
    // now (what those parts left out as duplicates, the retry counts again: not here).
    const stored = storedEventsOf(error);
    if (stored) metrics.countEvents(stream, { accepted: stored.accepted });
    throw error;
  }
  const accepted = lines.count - duplicates;
  // Stored, or found duplicate: either way the stream has stored events, on some shard.
  if (lines.rejectedCount > 0) await groupCommit.recordRejected(stream, lines, request, true);
  metrics.countEvents(stream, { accepted, duplicates, rejected: lines.rejectedCount });
  return { accepted, duplicates, rejected: lines.rejected, rejectedCount: lines.rejectedCount };
}

/** A Fastify request's part of StoringRequest. */
export function storingRequest(
  request: FastifyRequest,
  reply: FastifyReply,
): Pick<StoringRequest, 'id' | 'elapsedMs' | 'clientGone' | 'log'> {
  return {
    id: request.id,
    log: request.log,
    elapsedMs: () => reply.elapsedTime,
    // The client closed its side (FIN) or reset it: Node then sends no answer (its HTTP server
    // does not allow half-open connections).
    clientGone: () => request.raw.socket?.destroyed === true || request.raw.socket?.readableEnded === true,
  };
}
