import type { ParsedBody } from '../body/parse-body.js';
import { type Lines, type RejectedEvent, refusalOf } from '../body/to-lines.js';
import { errors } from '../errors.js';
import type { GroupCommit } from '../group-commit.js';
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

/**
 * The step both event APIs end with: counts a request's rejected events; refuses the request when
 * none of its events is valid (with its first event's problem); else appends the others and
 * counts what Redis stored and what it left out as duplicates.
 */
export async function storeLines(
  { groupCommit, metrics }: StoreDeps,
  stream: string,
  shape: ParsedBody['shape'],
  lines: Lines,
  request: { id: string; at: string },
): Promise<StoredCounts> {
  metrics.countEvents(stream, { rejected: lines.rejectedCount });
  const [first] = lines.rejected;
  // Recorded on the stream (counted and quarantined) only once it has stored an event
  // (reject-2.lua): after the append, so the request that creates the stream records its own.
  if (lines.count === 0) {
    if (lines.rejectedCount > 0) await groupCommit.recordRejected(stream, lines, request);
    throw first ? refusalOf(shape, first) : new errors.SPOOL_EMPTY_BATCH();
  }
  const { duplicates } = await groupCommit.append(stream, lines);
  if (lines.rejectedCount > 0) await groupCommit.recordRejected(stream, lines, request);
  const accepted = lines.count - duplicates;
  metrics.countEvents(stream, { accepted, duplicates });
  return { accepted, duplicates, rejected: lines.rejected, rejectedCount: lines.rejectedCount };
}
