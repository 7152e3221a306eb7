import type { EventProblem } from '../body/event-rules.js';
import { isPlainObject, MAX_MESSAGE_ID_LENGTH, messageIdTooLong } from '../body/event-rules.js';
import { isRawNumber } from '../body/exact-json.js';
import { jsonText } from '../body/to-lines.js';
import { formatIso, parseClientTime, parseIso } from '../iso-time.js';
import { type IpPolicy, storedIp } from './client-ip.js';

/** The Segment spec's message types. */
export const MESSAGE_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/** Fields a message of each type must carry, besides `userId` or `anonymousId` (Segment's spec). */
const REQUIRED: Record<MessageType, readonly string[]> = {
  track: ['event'],
  identify: [],
  page: [],
  screen: [],
  group: ['groupId'],
  alias: ['previousId'],
};

/** What a message shares with the others of its request: the batch's context and sentAt, the client. */
export interface MessageEnvelope {
  /** The route's type (single-message routes); batches take each message's own. */
  type?: MessageType;
  /** A batch's `context`, merged into each message's (the message's own fields win). */
  context?: unknown;
  /** A batch's `integrations`, merged into each message's the same way (Segment's batch field). */
  integrations?: unknown;
  /** A batch's `sentAt`, for messages without their own. */
  sentAt?: unknown;
  /** When the server received the request (ISO-8601). */
  receivedAt: string;
  /** The client's address (through TRUST_PROXY), for `context.ip` when the message has none. */
  ip: string;
  ipPolicy: IpPolicy;
  /** Messages need neither `userId` nor `anonymousId` (Jitsu's: its cookieless mode sends neither). */
  idsOptional?: boolean;
  /** `context.ip` is always the request's, whatever the message says (Jitsu's browser routes). */
  requestIpOnly?: boolean;
}

/**
 * Room a message's stored line gets past MAX_EVENT_BYTES for the fields Spool adds to it:
 * receivedAt, a messageId when it has none, its type, context.ip, the batch's sentAt,
 * originalTimestamp and the corrected timestamp (about 300 bytes with times as the SDKs write
 * them). The SDKs hold a message to the limit as they send it (analytics-node: 32 KiB), and
 * count it sent: measured as stored without this room, a message just under the SDK's limit
 * was refused while the SDK took the batch's 200 as done.
 */
export const SERVER_FIELDS_BYTES = 1024;

/** The fields a batch merges into its messages (Segment's spec), each an object where it is given. */
const MERGED_FIELDS = ['context', 'integrations'] as const;

/**
 * The first merged field of a message, or of a batch, that is not an object. Null is none (an
 * SDK that sends every field); anything else could not be merged, and is refused rather than
 * dropped.
 */
export function nonObjectMergedField(fields: Record<string, unknown>): string | undefined {
  for (const name of MERGED_FIELDS) {
    const value = fields[name];
    if (value !== undefined && value !== null && !isPlainObject(value)) return name;
  }
  return undefined;
}

/**
 * The ids Segment's spec types as strings: a number sent for one (a backend's numeric user id) is
 * stored as its text. Kept a number, a generation of numeric ids made its Parquet column INT64 and
 * the next one's text: a reader of both, or a table declaring the column `string` (Athena, as
 * output.md's), refused the files (the Parquet review, with polars).
 */
const TEXT_IDS = ['userId', 'anonymousId', 'groupId', 'previousId'] as const;

/**
 * A numeric id's text, one for each value however the client wrote it: an integer as its digits
 * (those sent, past 2^53), so Python's `1e+16` and JavaScript's `10000000000000000` are one user,
 * as they were when kept numbers (the own-fix review); any other number as JavaScript writes it.
 */
function idText(id: number | { rawJSON: string }): string {
  if (typeof id !== 'number' && /^-?\d+$/.test(id.rawJSON)) return id.rawJSON;
  const value = typeof id === 'number' ? id : Number(id.rawJSON);
  return Number.isInteger(value) ? BigInt(value).toString() : String(value);
}

const isId = (value: unknown) =>
  (typeof value === 'string' && value !== '') || typeof value === 'number' || isRawNumber(value);

function problem(message: string): EventProblem {
  return { code: 'SPOOL_INVALID_EVENT', message };
}

/** Milliseconds of an ISO-8601 time, or undefined (a date that does not exist is no time). */
function timeOf(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = parseClientTime(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** 0001-01-01T00:00:00.000Z and 10000-01-01: the span of ISO 8601's four-digit years. */
const FIRST_ISO_MS = -62_135_596_800_000;
const PAST_ISO_MS = 253_402_300_800_000;

/**
 * ISO-8601 of `ms`, or undefined outside the years 0001 to 9999 (a client's wild clock, or a
 * sentinel such as 9999-12-31 or Go's zero time moved by the correction): `toISOString` writes
 * those as `0000-…`, `-000001-…` or `+010000-…`, which no ISO 8601 reader (the flusher's
 * included) takes as a time.
 */
function isoOf(ms: number): string | undefined {
  return ms >= FIRST_ISO_MS && ms < PAST_ISO_MS ? formatIso(ms) : undefined;
}

export type NormalizeMessage = (
  raw: unknown,
) => { message: Record<string, unknown> } | { problem: EventProblem };

/**
 * A refused message's text for the quarantine, as the client sent it less what is never stored:
 * its `writeKey`, and its `context.ip` (not yet under IP_POLICY: the address is left out). A
 * message refused only for its stored size is quarantined as its stored line instead, with
 * `context.ip` as IP_POLICY stores it.
 */
export function quarantineText(value: unknown): string {
  if (!isPlainObject(value)) return jsonText(value);
  const { writeKey: _key, ...message } = value;
  const context = message.context;
  if (isPlainObject(context)) {
    const { ip: _ip, ...rest } = context;
    message.context = rest;
  }
  return jsonText(message);
}

/**
 * Turns the messages of one request into what Spool stores, per Segment's spec: the type from
 * the route (single messages) or the message (batches), the required fields checked, the batch's
 * context merged in, `context.ip` filled from the request when absent and then kept, truncated or
 * dropped (IP_POLICY), `sentAt` kept, `originalTimestamp` the client's own timestamp, and
 * `timestamp` corrected for the client's clock: receivedAt − (sentAt − originalTimestamp), unless
 * the message has both (RudderStack's, with a time the user set), whose timestamp is kept. The
 * write key, a secret, is never stored. `receivedAt` and `messageId` are set after, as for every
 * stored line (to-lines.ts). What the messages share (times, the batch's context) is read once
 * per request, and a message is changed in place rather than copied: this runs for every message.
 */
export function messageNormalizer(envelope: MessageEnvelope): NormalizeMessage {
  const receivedMs = parseIso(envelope.receivedAt);
  const batchSentMs = timeOf(envelope.sentAt);
  const batchContext = isPlainObject(envelope.context) ? envelope.context : undefined;
  const batchIntegrations = isPlainObject(envelope.integrations) ? envelope.integrations : undefined;
  // The request's address as IP_POLICY stores it, for every message without one of its own: made
  // once (truncating parses the address).
  const requestIp = storedIp(envelope.ip, envelope.ipPolicy);
  return (raw) => {
    if (!isPlainObject(raw)) return { problem: problem('a message must be a JSON object') };
    const type = envelope.type ?? raw.type;
    if (!MESSAGE_TYPES.includes(type as MessageType)) {
      return { problem: problem(`"type" must be one of ${MESSAGE_TYPES.join(', ')}`) };
    }
    if (!envelope.idsOptional && !isId(raw.userId) && !isId(raw.anonymousId)) {
      // rudder-server's words too: rudder-sdk-android drops such events on them (any case), and
      // sends their batch again every second, for ever, on any other 400.
      return {
        problem: problem(
          'a message needs a "userId" or an "anonymousId" (request neither has anonymousId nor userId)',
        ),
      };
    }
    for (const field of REQUIRED[type as MessageType]) {
      if (!isId(raw[field])) return { problem: problem(`a ${type} message needs "${field}"`) };
    }
    const notAnObject = nonObjectMergedField(raw);
    if (notAnObject) return { problem: problem(`"${notAnObject}" must be an object`) };

    // The parsed message is this request's own: changed in place. A key set to undefined is left
    // out by JSON.stringify, and deleting one would slow every later step on the object.
    const message = raw;
    if (Object.hasOwn(message, 'writeKey')) message.writeKey = undefined;
    // A client's numeric id is its id (as for userId): kept, and deduplicated, as text; one past
    // 2^53 as the digits it was sent with (exact-json.ts), and refused past 100 of them, as a
    // string that long is (checkEvent): given a new id, its retries were stored again.
    if (typeof message.messageId === 'number' && Number.isSafeInteger(message.messageId)) {
      message.messageId = String(message.messageId);
    } else if (isRawNumber(message.messageId)) {
      const digits = message.messageId.rawJSON;
      if (digits.length > MAX_MESSAGE_ID_LENGTH) return { problem: messageIdTooLong(digits.length) };
      message.messageId = digits;
    }
    for (const field of TEXT_IDS) {
      const id = message[field];
      if ((typeof id === 'number' && Number.isFinite(id)) || isRawNumber(id)) message[field] = idText(id);
    }
    message.type = type;
    const ownContext = (raw.context ?? undefined) as Record<string, unknown> | undefined;
    const context: Record<string, unknown> = batchContext
      ? { ...batchContext, ...ownContext }
      : (ownContext ?? {});
    // A client's address that is no text (a number, "") is none: the request's is stored.
    const ownIp =
      !envelope.requestIpOnly && typeof context.ip === 'string' && context.ip !== '' ? context.ip : undefined;
    const ip = ownIp === undefined ? requestIp : storedIp(ownIp, envelope.ipPolicy);
    context.ip = ip;
    message.context = context;
    if (batchIntegrations) {
      const own = message.integrations;
      // Shared, not copied, when the message has none: nothing changes it.
      if (own === undefined || own === null) message.integrations = batchIntegrations;
      else if (isPlainObject(own)) message.integrations = { ...batchIntegrations, ...own };
    }

    const ownSentAt = message.sentAt;
    const sentAt = ownSentAt ?? envelope.sentAt;
    if (sentAt !== undefined) message.sentAt = sentAt;
    // RudderStack's SDKs time a message in originalTimestamp, and a timestamp beside it is one the
    // user set (an import of past events): kept, as rudder-server keeps it. Segment's SDKs time it
    // in timestamp, which is then the original, corrected for the client's clock.
    // A null originalTimestamp (an SDK that sends every field) is none, as a null sentAt is.
    const ownTimestampMs =
      message.originalTimestamp === undefined || message.originalTimestamp === null
        ? undefined
        : timeOf(message.timestamp);
    const explicit = ownTimestampMs === undefined ? undefined : isoOf(ownTimestampMs);
    if (explicit !== undefined) {
      message.timestamp = explicit;
      return { message };
    }
    const original = message.originalTimestamp ?? message.timestamp;
    const originalMs = timeOf(original);
    // Read once for the batch; a message's own (not null) is read here.
    const sentMs = ownSentAt === undefined || ownSentAt === null ? batchSentMs : timeOf(ownSentAt);
    if (original !== undefined) message.originalTimestamp = original;
    // A sentAt before the message's own time is not from the same clock (a message is sent after it
    // happens): a placeholder (0001-01-01, 1970-01-01) moved a right time centuries ahead (a
    // review's run: year 4052). The client's time is kept as it is, as without a sentAt.
    const corrected =
      originalMs === undefined
        ? undefined
        : sentMs === undefined || sentMs < originalMs
          ? originalMs
          : receivedMs - (sentMs - originalMs);
    message.timestamp = (corrected === undefined ? undefined : isoOf(corrected)) ?? envelope.receivedAt;
    return { message };
  };
}

/** One message of the Segment-compatible API as Spool stores it (see messageNormalizer). */
export function normalizeMessage(
  raw: unknown,
  envelope: MessageEnvelope,
): { message: Record<string, unknown> } | { problem: EventProblem } {
  return messageNormalizer(envelope)(raw);
}
