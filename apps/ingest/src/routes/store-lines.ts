import type { RequestClient } from '../abandoned-requests.js';
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
}

/** The request whose events are stored, as storeLines sees it. */
export interface StoringRequest {
  id: string;
  /** When it was received (ISO 8601), for the quarantine's entries. */
  at: string;
  /**
   * Its client, where a request held past half DEDUPE_WINDOW whose client is gone stores nothing
   * (abandoned-requests.ts); none for a beacon, which is never retried.
   */
  client?: RequestClient;
}

/**
 * The step both event APIs end with: refuses the request when none of its events is valid (with
 * its first event's problem); else appends the others. Counts its events by outcome once the
 * answer is final (a 202, or the 400 or 413 of its first event's problem): a request refused with a 503 is retried, and counted then.
 */
export async function storeLines(
  { groupCommit, metrics }: StoreDeps,
  stream: string,
  shape: ParsedBody['shape'],
  lines: Lines,
  request: StoringRequest,
): Promise<StoredCounts> {
  const [first] = lines.rejected;
  // Recorded on the stream (counted and quarantined) only once it has stored an event
  // (reject-4.lua): after the append, so the request that creates the stream records its own.
  if (lines.count === 0) {
    metrics.countEvents(stream, { rejected: lines.rejectedCount });
    if (lines.rejectedCount > 0) await groupCommit.recordRejected(stream, lines, request, false);
    throw first ? refusalOf(shape, first) : new errors.SPOOL_EMPTY_BATCH();
  }
  let duplicates: number;
  try {
    ({ duplicates } = await groupCommit.append(stream, lines, request.client));
  } catch (error) {
    // Some shards stored events, which the retry answers as duplicates: their storing is counted
    // now (what those parts left out as duplicates, the retry counts again: not here).
    const stored = storedEventsOf(error);
    if (stored) metrics.countEvents(stream, { accepted: stored.accepted, abandoned: stored.abandoned });
    // No answer reaches the client, to be counted by its status: its events are counted here.
    if (error instanceof errors.SPOOL_CLIENT_GONE) metrics.countEvents(stream, { abandoned: lines.count });
    throw error;
  }
  const accepted = lines.count - duplicates;
  // Stored, or found duplicate: either way the stream has stored events, on some shard.
  if (lines.rejectedCount > 0) await groupCommit.recordRejected(stream, lines, request, true);
  metrics.countEvents(stream, { accepted, duplicates, rejected: lines.rejectedCount });
  return { accepted, duplicates, rejected: lines.rejected, rejectedCount: lines.rejectedCount };
}
