/**
 * The rule that keeps the stream registry (`{<ns>}:stream-registry`) both complete and small.
 *
 * - The ingest registers a stream before its first append, and again before an append once its
 *   own registration is older than STREAM_REGISTRATION_REFRESH_MS: registration never depends
 *   on a command sent after events were acknowledged, and a registration is never older than
 *   that while appends go on. It also registers it again after an append that started a new
 *   buffer, before answering: a registry that lost the stream (a FLUSHALL) has it back then.
 * - The sweep forgets a stream that is idle (nothing buffered, nothing sealed) and was last
 *   registered more than `streamForgetAfterMs` ago, a horizon far longer than the refresh, so an
 *   ingest still appending has always registered the stream since.
 */

/** How long an ingest trusts its own registration of a stream before it registers it again. */
export const STREAM_REGISTRATION_REFRESH_MS = 60_000;

/** How long an idle stream stays in the registry after its last registration. */
export function streamForgetAfterMs(flushIntervalMs: number): number {
  return Math.max(60 * 60_000, 4 * flushIntervalMs);
}
