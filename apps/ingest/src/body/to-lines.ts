import { randomUUID } from 'node:crypto';
import { checkEvent } from './event-rules.js';
import type { ParsedBody } from './parse-body.js';

export interface RejectedEvent {
  index: number;
  code: string;
  message: string;
}

export interface Lines {
  /** Stored lines, each one JSON object ending in "\n". */
  text: string;
  count: number;
  bytes: number;
  rejected: RejectedEvent[];
}

/**
 * One event as stored, ending in "\n": the text of `JSON.stringify({ ...event, receivedAt,
 * messageId })`, where `receivedAt` is always the server's clock and `messageId` is the client's
 * non-empty string, else a new UUID. An event that has neither field (the usual case) is not
 * copied: the two fields are written after its own JSON, which gives the same text and saves the
 * copy on the ingest's busiest path.
 */
export function storedLine(event: Record<string, unknown>, stamp: string): string {
  const clientMessageId = typeof event.messageId === 'string' && event.messageId !== '';
  if (Object.hasOwn(event, 'receivedAt') || (Object.hasOwn(event, 'messageId') && !clientMessageId)) {
    // The server's value replaces the client's in place: only the copy keeps the key order.
    const messageId = clientMessageId ? event.messageId : randomUUID();
    return `${JSON.stringify({ ...event, receivedAt: stamp, messageId })}\n`;
  }
  const json = JSON.stringify(event);
  const added = clientMessageId
    ? `"receivedAt":"${stamp}"}\n`
    : `"receivedAt":"${stamp}","messageId":"${randomUUID()}"}\n`;
  return json === '{}' ? `{${added}` : `${json.slice(0, -1)},${added}`;
}

/**
 * Turns a parsed body into the lines to store: each good event plus `receivedAt` (the server's
 * clock, always) and `messageId` (the client's non-empty string, else a new UUID). Bad events
 * are listed by index and cost nothing else.
 */
export function toLines(body: ParsedBody, receivedAt: Date, maxEventBytes: number): Lines {
  const stamp = receivedAt.toISOString();
  const parts: string[] = [];
  const rejected: RejectedEvent[] = [];
  let bytes = 0;

  body.items.forEach((item, index) => {
    if ('parseError' in item) {
      rejected.push({ index, code: 'SPOOL_INVALID_JSON', message: item.parseError });
      return;
    }
    const problem = checkEvent(item.value);
    if (problem) {
      rejected.push({ index, ...problem });
      return;
    }
    const line = storedLine(item.value as Record<string, unknown>, stamp);
    const lineBytes = Buffer.byteLength(line);
    if (lineBytes > maxEventBytes) {
      rejected.push({
        index,
        code: 'SPOOL_EVENT_TOO_LARGE',
        message: `the event is ${lineBytes} bytes as stored, over the ${maxEventBytes}-byte limit`,
      });
      return;
    }
    parts.push(line);
    bytes += lineBytes;
  });

  return { text: parts.join(''), count: parts.length, bytes, rejected };
}
