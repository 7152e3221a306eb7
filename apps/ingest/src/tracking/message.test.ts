import { describe, expect, it } from '@jest/globals';
import { parseExactJson } from '../body/exact-json.js';
import { type MessageEnvelope, messageNormalizer, normalizeMessage, quarantineText } from './message.js';

const RECEIVED = '2026-12-01T12:00:10.000Z';
const envelope = (more: Partial<MessageEnvelope> = {}): MessageEnvelope => ({
  receivedAt: RECEIVED,
  ip: '203.0.113.77',
  ipPolicy: 'keep',
  ...more,
});
const stored = (raw: unknown, more: Partial<MessageEnvelope> = {}) => {
  const result = normalizeMessage(raw, envelope(more));
  if ('problem' in result) throw new Error(result.problem.message);
  return result.message;
};
const refusal = (raw: unknown, more: Partial<MessageEnvelope> = {}) => {
  const result = normalizeMessage(raw, envelope(more));
  return 'problem' in result ? result.problem.message : undefined;
};

describe('normalizeMessage', () => {
  it('takes the type from the route for single messages, and from the message in a batch', () => {
    expect(stored({ userId: 'u', event: 'x', type: 'page' }, { type: 'track' }).type).toBe('track');
    expect(stored({ userId: 'u', type: 'screen' }).type).toBe('screen');
    expect(refusal({ userId: 'u', type: 'purchase' })).toMatch(/"type" must be one of track, identify/);
    expect(refusal({ userId: 'u' })).toMatch(/"type" must be one of/);
  });

  it("requires Segment's fields: an identity everywhere, event, groupId and previousId by type", () => {
    expect(refusal({ event: 'x' }, { type: 'track' })).toBe(
      'a message needs a "userId" or an "anonymousId" (request neither has anonymousId nor userId)',
    );
    expect(refusal({ userId: '' }, { type: 'identify' })).toMatch(/"userId" or an "anonymousId"/);
    expect(refusal({ userId: 'u' }, { type: 'track' })).toBe('a track message needs "event"');
    expect(refusal({ anonymousId: 'a' }, { type: 'group' })).toBe('a group message needs "groupId"');
    expect(refusal({ userId: 'u' }, { type: 'alias' })).toBe('a alias message needs "previousId"');
    expect(refusal({ userId: 42, event: 'x' }, { type: 'track' })).toBeUndefined();
    // Present is not enough: an empty text, or null, is no event or groupId (a mutation that asked
    // only for the field stored both).
    expect(refusal({ userId: 'u', event: '' }, { type: 'track' })).toBe('a track message needs "event"');
    expect(refusal({ anonymousId: 'a', groupId: null }, { type: 'group' })).toBe(
      'a group message needs "groupId"',
    );
    expect(refusal('text', { type: 'track' })).toBe('a message must be a JSON object');
    expect(refusal({ userId: 'u', context: [1] }, { type: 'identify' })).toBe('"context" must be an object');
    // null is no context: the message is kept, with the request's ip.
    expect(stored({ userId: 'u', context: null }, { type: 'identify' }).context).toEqual({
      ip: '203.0.113.77',
    });
  });

  it("merges the batch's context into each message's, the message's own fields winning", () => {
    const message = stored(
      { userId: 'u', context: { locale: 'fr', app: { name: 'mine' } } },
      { type: 'identify', context: { locale: 'en', library: { name: 'analytics-node' } } },
    );
    expect(message.context).toEqual({
      locale: 'fr',
      app: { name: 'mine' },
      library: { name: 'analytics-node' },
      ip: '203.0.113.77',
    });
  });

  it('fills context.ip from the request when absent, and applies IP_POLICY to either', () => {
    expect(stored({ userId: 'u' }, { type: 'page' }).context).toEqual({ ip: '203.0.113.77' });
    expect(stored({ userId: 'u', context: { ip: '198.51.100.9' } }, { type: 'page' }).context).toEqual({
      ip: '198.51.100.9',
    });
    expect(stored({ userId: 'u' }, { type: 'page', ipPolicy: 'truncate' }).context).toEqual({
      ip: '203.0.113.0',
    });
    const dropped = stored(
      { userId: 'u', context: { ip: '198.51.100.9' } },
      { type: 'page', ipPolicy: 'drop' },
    );
    expect(JSON.stringify(dropped.context)).toBe('{}');
    // A client's ip that is no text is none: the request's is stored, under IP_POLICY.
    for (const ip of ['', 3405803785, null, { v: 4 }]) {
      expect(stored({ userId: 'u', context: { ip } }, { type: 'page' }).context).toEqual({
        ip: '203.0.113.77',
      });
    }
  });

  it("applies IP_POLICY to each message of a batch: the request's address to those without one, each message's own to the others", () => {
    const normalize = messageNormalizer(envelope({ ipPolicy: 'truncate', ip: '2001:db8:1:2:3:4:5:6' }));
    const ips = [{ userId: 'a' }, { userId: 'b', context: { ip: '198.51.100.9' } }, { userId: 'c' }].map(
      (raw) => {
        const result = normalize({ type: 'page', ...raw });
        if ('problem' in result) throw new Error(result.problem.message);
        return (result.message.context as { ip: string }).ip;
      },
    );
    expect(ips).toEqual(['2001:db8:1::', '198.51.100.0', '2001:db8:1::']);
  });

  it("merges the batch's integrations as context is: a message's null is none, a non-object refused", () => {
    const batch = { type: 'track' as const, integrations: { Amplitude: false } };
    expect(stored({ userId: 'u', event: 'x', integrations: null }, batch).integrations).toEqual({
      Amplitude: false,
    });
    expect(stored({ userId: 'u', event: 'x', integrations: { All: true } }, batch).integrations).toEqual({
      Amplitude: false,
      All: true,
    });
    expect(refusal({ userId: 'u', event: 'x', integrations: 'all' }, batch)).toBe(
      '"integrations" must be an object',
    );
    expect(refusal({ userId: 'u', event: 'x', integrations: [1] }, { type: 'track' })).toBe(
      '"integrations" must be an object',
    );
  });

  it('keeps sentAt and the client timestamp, and corrects timestamp for the client clock', () => {
    // The client's clock is 1 h behind: it sent at 11:00:09 what it timed at 11:00:00.
    const message = stored(
      { userId: 'u', event: 'x', timestamp: '2026-12-01T11:00:00.000Z' },
      { type: 'track', sentAt: '2026-12-01T11:00:09.000Z' },
    );
    expect(message).toMatchObject({
      sentAt: '2026-12-01T11:00:09.000Z',
      originalTimestamp: '2026-12-01T11:00:00.000Z',
      timestamp: '2026-12-01T12:00:01.000Z',
    });
    // A message's own sentAt wins over the batch's, stored and used; without sentAt the client's time stands.
    const own = stored(
      { userId: 'u', event: 'x', timestamp: '2026-12-01T11:00:00Z', sentAt: '2026-12-01T11:00:05Z' },
      { type: 'track', sentAt: '2026-12-01T11:00:09Z' },
    );
    expect([own.sentAt, own.timestamp]).toEqual(['2026-12-01T11:00:05Z', '2026-12-01T12:00:05.000Z']);
    expect(
      stored({ userId: 'u', event: 'x', timestamp: '2026-12-01T11:00:00Z' }, { type: 'track' }).timestamp,
    ).toBe('2026-12-01T11:00:00.000Z');
    // A null originalTimestamp is none: timestamp is the client's, corrected.
    expect(
      stored(
        { userId: 'u', event: 'x', timestamp: '2026-12-01T11:00:00.000Z', originalTimestamp: null },
        { type: 'track', sentAt: '2026-12-01T11:00:09.000Z' },
      ),
    ).toMatchObject({ timestamp: '2026-12-01T12:00:01.000Z', originalTimestamp: '2026-12-01T11:00:00.000Z' });
    // A null sentAt of its own is no sentAt: the batch's counts.
    expect(
      stored(
        { userId: 'u', event: 'x', timestamp: '2026-12-01T11:00:00.000Z', sentAt: null },
        { type: 'track', sentAt: '2026-12-01T11:00:09.000Z' },
      ).timestamp,
    ).toBe('2026-12-01T12:00:01.000Z');
    // A sentAt before the message's own time is not from its clock (a placeholder): no correction,
    // where one by 0001-01-01 or 1970-01-01 put the event in year 4052 or 2083 (a review's run).
    for (const placeholder of [
      '0001-01-01T00:00:00Z',
      '1970-01-01T00:00:00.000Z',
      '2026-12-01T10:59:59.999Z',
    ]) {
      expect(
        stored(
          { userId: 'u', event: 'x', timestamp: '2026-12-01T11:00:00.000Z' },
          { type: 'track', sentAt: placeholder },
        ).timestamp,
      ).toBe('2026-12-01T11:00:00.000Z');
    }
    // Sent the instant it happened: corrected (to the time of receipt).
    expect(
      stored(
        { userId: 'u', event: 'x', timestamp: '2026-12-01T11:00:00.000Z' },
        { type: 'track', sentAt: '2026-12-01T11:00:00.000Z' },
      ).timestamp,
    ).toBe(RECEIVED);
    // No client time at all, or one JavaScript cannot write: the time of receipt.
    expect(stored({ userId: 'u', event: 'x' }, { type: 'track' }).timestamp).toBe(RECEIVED);
    expect(
      stored(
        { userId: 'u', event: 'x', timestamp: '+275760-09-13T00:00:00.000Z' },
        { type: 'track', sentAt: '1970-01-01T00:00:00Z' },
      ).timestamp,
    ).toBe(RECEIVED);
  });

  it('believes ISO 8601 alone: what else Date.parse reads is no time, and a time without an offset is UTC', () => {
    // V8: 2042-01-01, 2001-12-03, 2026-12-03 local, a Unix time in 2001 read as a year, midnight UTC.
    for (const timestamp of [
      '42',
      'Dec 3',
      '12/03/2026',
      '1764540000',
      '2026-12-03',
      'Thu, 03 Dec 2026 13:00:00 GMT',
    ]) {
      expect(stored({ userId: 'u', event: 'x', timestamp }, { type: 'track' })).toMatchObject({
        timestamp: RECEIVED,
        originalTimestamp: timestamp,
      });
    }
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      for (const [timestamp, utc] of [
        ['2026-12-03T13:00:00', '2026-12-03T13:00:00.000Z'],
        ['2026-12-03 13:00:00.123456', '2026-12-03T13:00:00.123Z'],
        ['2026-12-03T13:00:00+0530', '2026-12-03T07:30:00.000Z'],
        ['2026-12-03T13:00:00-05', '2026-12-03T18:00:00.000Z'],
      ]) {
        expect(stored({ userId: 'u', event: 'x', timestamp }, { type: 'track' }).timestamp).toBe(utc);
      }
    } finally {
      process.env.TZ = zone;
    }
  });

  it('takes a date that does not exist for no time, where Date.parse rolls it into the next month', () => {
    // Feb 30 and Apr 31 (V8: March 2, May 1); Feb 29 of a leap year exists.
    for (const timestamp of [
      '2026-02-30T10:00:00.000Z',
      '2026-04-31T10:00:00Z',
      '2025-02-29T10:00:00.000Z',
    ]) {
      const message = stored({ userId: 'u', event: 'x', timestamp }, { type: 'track' });
      expect(message).toMatchObject({ timestamp: RECEIVED, originalTimestamp: timestamp });
    }
    expect(
      stored({ userId: 'u', event: 'x', timestamp: '2024-02-29T10:00:00.000Z' }, { type: 'track' }).timestamp,
    ).toBe('2024-02-29T10:00:00.000Z');
    expect(
      stored({ userId: 'u', event: 'x', timestamp: '2026-12-31T23:59:59.999Z' }, { type: 'track' }).timestamp,
    ).toBe('2026-12-31T23:59:59.999Z');
    // Nor is an impossible sentAt believed: the client's time stands uncorrected.
    expect(
      stored(
        { userId: 'u', event: 'x', timestamp: '2026-12-01T11:00:00.000Z' },
        { type: 'track', sentAt: '2026-11-31T11:00:09.000Z' },
      ).timestamp,
    ).toBe('2026-12-01T11:00:00.000Z');
    // A timestamp the user set beside originalTimestamp that does not exist is corrected over.
    expect(
      stored(
        {
          userId: 'u',
          event: 'x',
          timestamp: '2026-06-31T00:00:00Z',
          originalTimestamp: '2026-12-01T11:00:00.000Z',
        },
        { type: 'track' },
      ).timestamp,
    ).toBe('2026-12-01T11:00:00.000Z');
  });

  it("keeps a timestamp the user set beside RudderStack's originalTimestamp, as rudder-server does", () => {
    const message = stored(
      {
        userId: 'u',
        event: 'Imported',
        timestamp: '2020-05-05T12:00:00+02:00',
        originalTimestamp: '2026-12-01T11:00:00.000Z',
      },
      { type: 'track', sentAt: '2026-12-01T11:00:09.000Z' },
    );
    expect(message).toMatchObject({
      timestamp: '2020-05-05T10:00:00.000Z',
      originalTimestamp: '2026-12-01T11:00:00.000Z',
      sentAt: '2026-12-01T11:00:09.000Z',
    });
    // originalTimestamp alone (RudderStack's usual message) is corrected as Segment's timestamp is.
    expect(
      stored(
        { userId: 'u', event: 'x', originalTimestamp: '2026-12-01T11:00:00.000Z' },
        { type: 'track', sentAt: '2026-12-01T11:00:09.000Z' },
      ).timestamp,
    ).toBe('2026-12-01T12:00:01.000Z');
    // A timestamp beside it that is no time is corrected over, not kept.
    expect(
      stored(
        { userId: 'u', event: 'x', timestamp: 'yesterday', originalTimestamp: '2026-12-01T11:00:00.000Z' },
        { type: 'track', sentAt: '2026-12-01T11:00:09.000Z' },
      ).timestamp,
    ).toBe('2026-12-01T12:00:01.000Z');
  });

  it("merges the batch's integrations into each message's, the message's own winning", () => {
    const batch = { All: false, Mixpanel: true };
    expect(stored({ userId: 'u' }, { type: 'identify', integrations: batch }).integrations).toEqual(batch);
    expect(
      stored({ userId: 'u', integrations: { Mixpanel: false } }, { type: 'identify', integrations: batch })
        .integrations,
    ).toEqual({ All: false, Mixpanel: false });
    expect(stored({ userId: 'u' }, { type: 'identify' }).integrations).toBeUndefined();
  });

  it('keeps a timestamp within the years ISO 8601 writes (0001–9999), else falls back as for no time', () => {
    // A "max date" placeholder sent 50 ms before it arrived: its sentAt precedes it, so it is not
    // corrected (corrected, it would pass year 9999), and stands as it would without a sentAt.
    expect(
      stored(
        { userId: 'u', event: 'x', timestamp: '9999-12-31T23:59:59.999Z' },
        { type: 'track', sentAt: '2026-12-01T12:00:09.950Z' },
      ).timestamp,
    ).toBe('9999-12-31T23:59:59.999Z');
    expect(
      stored({ userId: 'u', event: 'x', timestamp: '9999-12-31T23:59:59.999Z' }, { type: 'track' }).timestamp,
    ).toBe('9999-12-31T23:59:59.999Z');
    // Go's zero time from a client 1 s fast: corrected, it would be year 0000.
    expect(
      stored(
        { userId: 'u', event: 'x', timestamp: '0001-01-01T00:00:00Z' },
        { type: 'track', sentAt: '2026-12-01T12:00:11.000Z' },
      ).timestamp,
    ).toBe(RECEIVED);
    // A timestamp the user set beside RudderStack's originalTimestamp, past 9999 once in UTC:
    // the client's time (originalTimestamp, corrected) stands, as for a timestamp that is no time.
    expect(
      stored(
        {
          userId: 'u',
          event: 'x',
          timestamp: '9999-12-31T23:30:00-01:00',
          originalTimestamp: '2026-12-01T12:00:00.000Z',
        },
        { type: 'track' },
      ).timestamp,
    ).toBe('2026-12-01T12:00:00.000Z');
    // The first instant past the span, written with an offset (10000-01-01T00:00:00Z): no time.
    expect(
      stored({ userId: 'u', event: 'x', timestamp: '9999-12-31T23:00:00-01:00' }, { type: 'track' })
        .timestamp,
    ).toBe(RECEIVED);
    // The span's ends themselves are kept.
    expect(
      stored({ userId: 'u', event: 'x', timestamp: '0001-01-01T00:00:00.000Z' }, { type: 'track' }).timestamp,
    ).toBe('0001-01-01T00:00:00.000Z');
    expect(
      stored({ userId: 'u', event: 'x', timestamp: '9999-12-31T23:59:59.999Z' }, { type: 'track' }).timestamp,
    ).toBe('9999-12-31T23:59:59.999Z');
  });

  it('keeps a numeric messageId (a safe integer) as its text, as dedupe and readers see it', () => {
    expect(stored({ userId: 'u', messageId: 987654321 }, { type: 'identify' }).messageId).toBe('987654321');
    // Not an integer: left as sent, which is no id of the client's (the stored line gets a UUID).
    expect(stored({ userId: 'u', messageId: 1.5 }, { type: 'identify' }).messageId).toBe(1.5);
  });

  it("stores a numeric userId, anonymousId, groupId or previousId as its text, as Segment's spec types them", () => {
    const sent = parseExactJson(
      '{"userId":4711,"anonymousId":9007199254740993,"groupId":1.5,"previousId":-9007199254740993,"event":"e"}',
    );
    expect(stored(sent, { type: 'track' })).toMatchObject({
      userId: '4711',
      anonymousId: '9007199254740993',
      groupId: '1.5',
      // Past -2^53 too, as the digits sent (a mutation that took positive integers alone stored -9007199254740992).
      previousId: '-9007199254740993',
    });
    // One text for one value, however the client wrote it (Python writes 1e16 as 1e+16).
    for (const [written, asText] of [
      ['1e+16', '10000000000000000'],
      ['10000000000000000', '10000000000000000'],
      ['1e21', '1000000000000000000000'],
      ['1000000000000000000000', '1000000000000000000000'],
      ['1.0', '1'],
      ['-0', '0'],
      ['4.7e3', '4700'],
    ]) {
      expect([
        written,
        stored(parseExactJson(`{"userId":${written},"event":"e"}`), { type: 'track' }).userId,
      ]).toEqual([written, asText]);
    }
    // Text stays text; a missing id stays missing.
    const text = stored({ userId: '0042', event: 'e' }, { type: 'track' });
    expect(text.userId).toBe('0042');
    expect(Object.hasOwn(text, 'anonymousId')).toBe(false);
  });

  it('keeps an integer messageId past 2^53 as its digits, up to 100 of them, and refuses a longer one as it does a longer string', () => {
    const withId = (digits: string) => parseExactJson(`{"userId":"u","messageId":${digits}}`);
    const hundred = `9${'0'.repeat(99)}`;
    expect(stored(withId('9007199254740993'), { type: 'identify' }).messageId).toBe('9007199254740993');
    expect(stored(withId(hundred), { type: 'identify' }).messageId).toBe(hundred);
    // Given a new id instead, its retries were stored again.
    expect(refusal(withId(`${hundred}1`), { type: 'identify' })).toBe(
      'messageId may have at most 100 characters; this one has 101',
    );
  });

  it('never stores the write key', () => {
    // What is stored is the message's JSON.
    const line = JSON.stringify(stored({ userId: 'u', writeKey: 'secret-key-123' }, { type: 'identify' }));
    expect(line).not.toContain('writeKey');
    expect(line).not.toContain('secret-key-123');
  });
});

describe('quarantineText', () => {
  it('leaves out the write key and context.ip, and writes an integer past 2^53 as the number sent', () => {
    expect(quarantineText({ writeKey: 'secret', context: { ip: '1.2.3.4', a: 1 }, userId: 'u' })).toBe(
      '{"context":{"a":1},"userId":"u"}',
    );
    // A message, or its context, that is such a number is no object to take fields out of.
    for (const text of ['9007199254740993', '{"context":12345678901234567890,"writeKey":"secret"}']) {
      expect(quarantineText(parseExactJson(text))).toBe(text.replace(',"writeKey":"secret"', ''));
    }
  });
});
