import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import { createTestRedis, randomName } from '@spool/testkit';
import { startTestIngest, type TestIngest } from '../test/support.js';

/** What one request may cost the service: the defaults, against the requests a review found. */
const redis = createTestRedis();
let ingest: TestIngest;

beforeAll(async () => {
  ingest = await startTestIngest();
});
afterAll(async () => {
  await ingest.close();
  await redis.quit();
});

function post(stream: string, payload: string | Buffer, headers: Record<string, string> = {}) {
  return ingest.app.inject({
    method: 'POST',
    url: `/v1/streams/${stream}/events`,
    headers: { 'content-type': 'application/json', ...headers },
    payload,
  });
}

const nothingStored = async (stream: string) => {
  expect(await redis.exists(streamKeys(stream).buf)).toBe(0);
  expect(await redis.hget(streamKeys(stream).stats, 'accepted')).toBeNull();
};

/** `[{},{},…]` of about `bytes`: the cheapest events to send, and the most to store. */
const emptyObjects = (bytes: number) =>
  `[${Array.from({ length: Math.floor(bytes / 3) }, () => '{}').join(',')}]`;

describe('a request refused whole, before anything is stored', () => {
  it('a 1 KB gzip body of [{},{},…] (1 MiB of JSON, 349k events): 413, over MAX_EVENTS_PER_REQUEST', async () => {
    const stream = randomName();
    const body = gzipSync(emptyObjects(1024 * 1024), { level: 9 });
    expect(body.length).toBeLessThan(4096);

    const response = await post(stream, body, { 'content-encoding': 'gzip' });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ code: 'SPOOL_TOO_MANY_EVENTS' });
    expect(response.json().message).toMatch(/holds 349525 events; MAX_EVENTS_PER_REQUEST allows 2500/);
    await nothingStored(stream);
  });

  it('[{},1,1,…] with half a million bad events: 413, not a 50 MB list of rejections', async () => {
    const stream = randomName();
    const body = `[{}${',1'.repeat(500_000)}]`;
    const response = await post(stream, gzipSync(body), { 'content-encoding': 'gzip' });
    expect(response.statusCode).toBe(413);
    expect(response.body.length).toBeLessThan(1_000);
    await nothingStored(stream);
  });

  it('NDJSON of more lines than MAX_EVENTS_PER_REQUEST, counted before any is parsed', async () => {
    const stream = randomName();
    const response = await post(stream, '{}\n'.repeat(2_501), { 'content-type': 'application/x-ndjson' });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ code: 'SPOOL_TOO_MANY_EVENTS' });
    await nothingStored(stream);
  });

  it('events that would take more than 2 × MAX_BODY_BYTES as stored (numbers grow when re-serialized)', async () => {
    const stream = randomName();
    // 7 KB an event as sent, 24 KB as stored (9e15 is stored as its 16 digits; a whole number past
    // 2^53, such as 1e20, is kept as sent): 100 of them.
    const event = JSON.stringify({ n: Array.from({ length: 1_400 }, () => '9e15') }).replaceAll('"', '');
    const body = `[${Array.from({ length: 100 }, () => event.replace('{n:', '{"n":')).join(',')}]`;
    expect(body.length).toBeLessThan(1024 * 1024);

    const response = await post(stream, body);
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ code: 'SPOOL_REQUEST_TOO_LARGE' });
    await nothingStored(stream);
  });
});

describe('a request within the limits', () => {
  it('takes MAX_EVENTS_PER_REQUEST events', async () => {
    const stream = randomName();
    const response = await post(stream, emptyObjects(2_500 * 3));
    expect(response.statusCode).toBe(202);
    expect(response.json()).toMatchObject({ accepted: 2_500 });
  });

  it("takes a tracking batch of MAX_EVENTS_PER_REQUEST messages, and refuses one more with Segment's 400", async () => {
    const batch = (count: number) =>
      JSON.stringify({
        batch: Array.from({ length: count }, () => ({ type: 'track', event: 'E', anonymousId: 'a' })),
      });
    const send = (count: number) =>
      ingest.app.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { 'content-type': 'text/plain' },
        payload: batch(count),
      });
    expect((await send(2_500)).statusCode).toBe(200);
    const refused = await send(2_501);
    expect([refused.statusCode, refused.json().code]).toEqual([400, 'SPOOL_TOO_MANY_EVENTS']);
  });

  it('lists the first 100 rejected events, and counts them all', async () => {
    const stream = randomName();
    const body = JSON.stringify(Array.from({ length: 2_500 }, (_, i) => (i === 0 ? { ok: true } : i)));
    const response = await post(stream, body);
    expect(response.statusCode).toBe(202);
    const answer = response.json();
    expect(answer).toMatchObject({ accepted: 1, duplicates: 0, rejectedCount: 2_499 });
    expect(answer.rejected).toHaveLength(100);
    expect(answer.rejected[0]).toEqual({
      index: 1,
      code: 'SPOOL_INVALID_EVENT',
      message: 'an event must be a JSON object, not a number',
    });
  });

  it('refuses an event whose own messageId has over 100 characters, and only that event', async () => {
    const stream = randomName();
    const body = JSON.stringify([{ messageId: 'm'.repeat(101) }, { messageId: 'm'.repeat(100) }]);
    const answer = (await post(stream, body)).json();
    expect(answer).toMatchObject({ accepted: 1, rejectedCount: 1 });
    expect(answer.rejected[0]).toMatchObject({ index: 0, code: 'SPOOL_INVALID_EVENT' });
  });
});
