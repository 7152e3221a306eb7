import { EventEmitter, once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InflightBodies, type InflightClient } from './inflight-bodies.js';

/** The parts of a request InflightBodies reads. */
function request(headers: Record<string, string>, method = 'POST', bodyLimit = 1_000_000): FastifyRequest {
  return { method, is404: false, routeOptions: { bodyLimit }, headers, heldBodyBytes: 0 } as never;
}

/** Each request's response, as Node's: it emits 'close' once answered, or once its client is gone. */
const responses = new WeakMap<FastifyRequest, EventEmitter>();

/** Runs the onRequest hook: the error it refused with, or undefined. */
function admit(inflight: InflightBodies, req: FastifyRequest): Error | undefined {
  const raw = new EventEmitter();
  responses.set(req, raw);
  let refusal: Error | undefined;
  inflight.admit.call(undefined as never, req, { raw } as unknown as FastifyReply, (error?: Error) => {
    refusal = error;
  });
  return refusal;
}

const close = (req: FastifyRequest) => responses.get(req)?.emit('close');

/**
 * A request let in whose body then comes whole (as `countArrival` counts it): the error it was
 * refused with, at its head or as its body came, or undefined.
 */
function enter(inflight: InflightBodies, req: FastifyRequest): Error | undefined {
  const refusal = admit(inflight, req);
  if (refusal) return refusal;
  try {
    inflight.grow(req, Number(req.headers['content-length']));
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

/**
 * The test's own headers stand for whom a request is counted against: `x-keyless-client`, the
 * address of a request without a key in a header; `x-client`, of one with a valid key there.
 */
function clientOf(req: FastifyRequest): InflightClient | undefined {
  const keyless = req.headers['x-keyless-client'] as string | undefined;
  if (keyless) return { address: keyless, keyless: true };
  const keyed = req.headers['x-client'] as string | undefined;
  return keyed ? { address: keyed, keyless: false } : undefined;
}

describe('InflightBodies', () => {
  it('lets a request in by the room its whole body needs (Content-Length as sent, chunked the route limit), holding at most 1/1024 of the bound before it comes', () => {
    const inflight = new InflightBodies(10_000_000); // 9,765 bytes before a body
    const requests = [
      request({ 'content-length': '1000' }),
      request({ 'content-length': '1000', 'content-encoding': 'gzip' }),
      request({ 'transfer-encoding': 'chunked' }),
      request({ 'content-length': '900000' }),
      request({}, 'GET'),
      request({ 'content-length': '0' }),
    ];
    for (const req of requests) expect(admit(inflight, req)).toBeUndefined();
    expect(requests.map((req) => req.heldBodyBytes)).toEqual([1_000, 1_000, 9_765, 9_765, 0, 0]);
    expect(inflight.heldBytes).toBe(21_530);
    // Then each holds what of its body has come.
    inflight.grow(requests[3] as FastifyRequest, 500_000);
    expect(inflight.heldBytes).toBe(511_765);
  });

  it('leaves room beside heads that promise bodies and send nothing: each holds 1/1024 of the bound, and fails once its body finds no room', () => {
    const inflight = new InflightBodies(1_024_000); // 1,000 bytes before a body
    const heads = Array.from({ length: 100 }, () => request({ 'content-length': '900000' }));
    // Taken whole from Content-Length, the first held 900 KB and every other was refused.
    for (const head of heads) expect(admit(inflight, head)).toBeUndefined();
    expect(inflight.heldBytes).toBe(100_000);
    expect(enter(inflight, request({ 'content-length': '900000' }))).toBeUndefined();
    expect(inflight.heldBytes).toBe(1_000_000);
    // A head's body that then comes finds the room taken: refused as it arrives.
    expect(() => inflight.grow(heads[0] as FastifyRequest, 30_000)).toThrow(
      expect.objectContaining({ code: 'SPOOL_OVERLOADED' }),
    );
  });

  it('counts a large body as it arrives, and fails it with SPOOL_OVERLOADED where it finds no room', async () => {
    const inflight = new InflightBodies(1_024_000); // 1,000 bytes before a body
    /** The stream the hook hands Fastify for `payload`. */
    const countedBody = (req: FastifyRequest, payload: PassThrough): Readable => {
      expect(admit(inflight, req)).toBeUndefined();
      let body: Readable | undefined;
      inflight.countArrival.call(
        undefined as never,
        req,
        {} as FastifyReply,
        payload as never,
        (error, stream) => {
          expect(error).toBeFalsy();
          body = stream as unknown as Readable;
        },
      );
      return body as Readable;
    };
    // A small body, held whole from its head, is passed on as it is.
    const small = new PassThrough();
    expect(countedBody(request({ 'content-length': '900' }), small)).toBe(small);

    const large = request({ 'content-length': '600000' });
    const payload = new PassThrough();
    const body = countedBody(large, payload);
    body.resume();
    payload.write(Buffer.alloc(300_000));
    await once(body, 'data');
    expect(large.heldBodyBytes).toBe(300_000);
    // Another body takes the rest of the room meanwhile: the large one's next bytes find none.
    expect(enter(inflight, request({ 'content-length': '700000' }))).toBeUndefined();
    payload.write(Buffer.alloc(100_000));
    const [error] = (await once(body, 'error').catch((caught: unknown) => [caught])) as [Error];
    expect(error).toMatchObject({ code: 'SPOOL_OVERLOADED', statusCode: 503 });
    expect(large.heldBodyBytes).toBe(300_000);
  });

  it('grows the room of a body that inflates past it, and gives all of it back when its response closes', () => {
    const inflight = new InflightBodies(10_000_000);
    const zipped = request({ 'content-length': '1000', 'content-encoding': 'gzip' });
    admit(inflight, zipped);
    expect(inflight.heldBytes).toBe(1_000);
    inflight.grow(zipped, 5_000);
    expect(inflight.heldBytes).toBe(5_000);
    inflight.grow(zipped, 50_000);
    expect(inflight.heldBytes).toBe(50_000);
    close(zipped);
    expect(inflight.heldBytes).toBe(0);
  });

  it('lets a gzip body in by its size as sent, its inflation counted as it inflates', () => {
    const inflight = new InflightBodies(1_024_000);
    expect(enter(inflight, request({ 'content-length': '600000' }))).toBeUndefined();
    // Asked for 8 times its size (800 KB), as before the room was counted as bodies come, it was
    // refused beside the first: an SDK retrying three times lost such batches (a review's run).
    const zipped = request({ 'content-length': '100000', 'content-encoding': 'gzip' });
    expect(admit(inflight, zipped)).toBeUndefined();
    inflight.grow(zipped, 400_000);
    expect(inflight.heldBytes).toBe(1_000_000);
    expect(() => inflight.grow(zipped, 500_000)).toThrow(
      expect.objectContaining({ code: 'SPOOL_OVERLOADED' }),
    );
  });

  it('refuses a gzip body that would inflate past the bound while others hold room, and lets one alone grow', () => {
    const inflight = new InflightBodies(100_000); // 97 bytes before a body
    const first = request({ 'content-length': '1000', 'content-encoding': 'gzip' });
    const second = request({ 'content-length': '1000', 'content-encoding': 'gzip' });
    admit(inflight, first);
    admit(inflight, second);
    inflight.grow(first, 60_000);
    expect(() => inflight.grow(second, 60_000)).toThrow(
      expect.objectContaining({ code: 'SPOOL_OVERLOADED' }),
    );
    expect([inflight.heldBytes, second.heldBodyBytes]).toEqual([60_097, 97]);
    close(second);
    // Alone, a body grows to what the route allows, as one is always let in.
    inflight.grow(first, 900_000);
    expect(inflight.heldBytes).toBe(900_000);
    close(first);
    expect(inflight.heldBytes).toBe(0);
  });

  it('refuses what would pass the bound with SPOOL_OVERLOADED, but always lets one in when nothing is held', () => {
    const inflight = new InflightBodies(1_500);
    const huge = request({ 'content-length': '900000' });
    expect(enter(inflight, huge)).toBeUndefined();
    const next = request({ 'content-length': '10' });
    expect(enter(inflight, next)).toMatchObject({ code: 'SPOOL_OVERLOADED', statusCode: 503 });
    expect(next.heldBodyBytes).toBe(0);
    // A path with no route reads no body: it gets its 404, not a 503, and holds nothing.
    const nowhere = { ...request({ 'content-length': '10' }), is404: true } as FastifyRequest;
    expect(admit(inflight, nowhere)).toBeUndefined();
    expect(nowhere.heldBodyBytes).toBe(0);
    close(next);
    close(huge);
    expect(inflight.heldBytes).toBe(0);
    expect(enter(inflight, request({ 'content-length': '1000' }))).toBeUndefined();
    expect(enter(inflight, request({ 'content-length': '500' }))).toBeUndefined();
    expect(enter(inflight, request({ 'content-length': '1' }))).toMatchObject({ code: 'SPOOL_OVERLOADED' });
  });

  it('keeps half the bound for requests whose key is checked before their body: keyless ones hold half at most, one client a quarter', () => {
    // The test's own header stands for the client address of a request without a key in a header.
    const inflight = new InflightBodies(1_000, clientOf);
    const keyless = (client: string, bytes: number) =>
      request({ 'content-length': String(bytes), 'x-keyless-client': client });
    const first = keyless('a', 250);
    expect(enter(inflight, first)).toBeUndefined();
    expect(enter(inflight, keyless('a', 1))).toMatchObject({ code: 'SPOOL_OVERLOADED' }); // a's quarter
    expect(enter(inflight, keyless('b', 250))).toBeUndefined();
    expect(enter(inflight, keyless('c', 1))).toMatchObject({ code: 'SPOOL_OVERLOADED' }); // the keyless half
    // A request with its key in a header has the rest.
    expect(enter(inflight, request({ 'content-length': '500' }))).toBeUndefined();
    expect(inflight.heldBytes).toBe(1_000);
    close(first);
    expect(enter(inflight, keyless('c', 250))).toBeUndefined();
  });

  it('lets one client with its key in a header (or on an open service) pass its quarter only within three quarters of the room', () => {
    const inflight = new InflightBodies(1_000, clientOf);
    const keyed = (client: string, bytes: number) =>
      request({ 'content-length': String(bytes), 'x-client': client });
    const hog = keyed('k', 250);
    expect(enter(inflight, hog)).toBeUndefined();
    // Past its quarter while the room stays within three quarters: a single producer is not held to one.
    expect(enter(inflight, keyed('k', 500))).toBeUndefined();
    expect(enter(inflight, keyed('k', 1))).toMatchObject({ code: 'SPOOL_OVERLOADED' });
    // The last quarter is another's, to its own quarter.
    expect(enter(inflight, keyed('j', 200))).toBeUndefined();
    expect(enter(inflight, keyed('j', 51))).toMatchObject({ code: 'SPOOL_OVERLOADED' });
    expect(enter(inflight, keyed('m', 50))).toBeUndefined();
    expect(inflight.heldBytes).toBe(1_000);
    close(hog);
    // k holds 500, past its quarter, and the room is at 750.
    expect(enter(inflight, keyed('k', 1))).toMatchObject({ code: 'SPOOL_OVERLOADED' });
    expect(enter(inflight, keyed('n', 250))).toBeUndefined();
  });

  it('lets a keyless body grow only within its shares while others hold room in them, alone to the bound', () => {
    const inflight = new InflightBodies(1_000, clientOf);
    const zipped = (client: string) =>
      request({ 'content-length': '10', 'content-encoding': 'gzip', 'x-keyless-client': client });
    const [a1, a2, b1] = [zipped('a'), zipped('a'), zipped('b')];
    for (const req of [a1, a2, b1]) expect(admit(inflight, req)).toBeUndefined();
    // Each let in holding 1 byte (1/1024 of the bound) before its body.
    inflight.grow(a1, 249); // a: 249 + a2's 1 = 250, its quarter
    expect(() => inflight.grow(a2, 2)).toThrow(expect.objectContaining({ code: 'SPOOL_OVERLOADED' }));
    inflight.grow(b1, 250); // keyless: 500, the half
    expect(admit(inflight, zipped('c'))).toMatchObject({ code: 'SPOOL_OVERLOADED' });
    close(a2);
    close(b1);
    // Alone in both shares, a body grows to what the bound allows.
    inflight.grow(a1, 900);
    expect(inflight.heldBytes).toBe(900);
  });

  it("counts a keyless body's growth in its client's share, and lets a client's first request in whatever its size", () => {
    const inflight = new InflightBodies(1_000, clientOf);
    const zipped = request({ 'content-length': '10', 'content-encoding': 'gzip', 'x-keyless-client': 'a' });
    expect(admit(inflight, zipped)).toBeUndefined();
    inflight.grow(zipped, 400);
    expect(enter(inflight, request({ 'content-length': '1', 'x-keyless-client': 'a' }))).toMatchObject({
      code: 'SPOOL_OVERLOADED',
    });
    expect(enter(inflight, request({ 'content-length': '900', 'x-keyless-client': 'b' }))).toMatchObject({
      code: 'SPOOL_OVERLOADED', // the bound itself
    });
    close(zipped);
    expect(inflight.heldBytes).toBe(0);
    expect(enter(inflight, request({ 'content-length': '900', 'x-keyless-client': 'b' }))).toBeUndefined();
  });
});
