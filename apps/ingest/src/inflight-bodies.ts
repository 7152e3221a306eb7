import type { FastifyRequest, onRequestHookHandler, preParsingHookHandler } from 'fastify';
import { BodyCounter } from './body/decompress.js';
import { errors } from './errors.js';

/**
 * Of MAX_INFLIGHT_BYTES, the most a request holds before its body comes (16 KiB of the default
 * 16 MiB): the rest of its room it takes as the body arrives. Taken whole from Content-Length,
 * heads promising 1 MiB bodies and then sending nothing held the bound for the 30 s of the
 * request timeout, and again after it: 17 connections from a few addresses answered every other
 * client 503 (a review's run). Such heads now need 1,024 connections for it; bodies that come
 * hold what has come. Small bodies (every single event, a 100-event batch) are taken whole here,
 * and are not counted again as they arrive.
 */
const ROOM_BEFORE_BODY_SHARE = 1 / 1024;

/**
 * Of MAX_INFLIGHT_BYTES, what requests whose key is not known before their body (`keyless`) may
 * hold together, and what those of one client address may hold: a keyless client always at most,
 * any other past it only while the room is less than FREE_SHARE full.
 */
const KEYLESS_SHARE = 1 / 2;
const CLIENT_SHARE = 1 / 4;
const FREE_SHARE = 3 / 4;

/** Whom a request's room is counted against. */
export interface InflightClient {
  /** The client's address (its /64 for IPv6: `addressBucket`). */
  address: string;
  /** Keys are required, and this request's is not known before its body is read. */
  keyless: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Bytes of MAX_INFLIGHT_BYTES this request holds until it is answered. */
    heldBodyBytes: number;
    /** Whom this request's room is counted against (see `InflightClient`). */
    inflightClient: InflightClient | undefined;
  }
}

/**
 * The request bodies the ingest holds at once, bounded by MAX_INFLIGHT_BYTES: each body, parsed
 * into events and written again as lines, takes many times its size in memory until it is
 * answered (50 concurrent 1 MB requests took an ingest to 1.2 GiB), so past the bound a request
 * whose body would not fit is refused before its body is read (`503 SPOOL_OVERLOADED`, retried by
 * the SDKs), or as it arrives if others took the room meanwhile, instead of the process running
 * out of memory with every request in it. A body holds what of it has come (a small one, all of
 * it from the start: ROOM_BEFORE_BODY_SHARE). A request is let in whenever nothing is held, so one
 * of any allowed size always passes.
 *
 * Where keys are required, a request whose key comes only with its body (the tracking API's
 * `writeKey` field, a beacon's query) holds its room while it sends that body, key or none:
 * 16 connections that sent a head promising 1 MiB, and then nothing, held all 16 MiB for the 30 s
 * of the request timeout, and every keyed request got 503 (a review's run; again at once after
 * each timeout). So such requests together hold at most half the bound, and those of one client
 * address a quarter (each always let in when its share is empty): requests with a key in a header,
 * checked before the body is read, keep the rest.
 *
 * Those of one address, with a valid key in a header or on an open service, pass a quarter only
 * while the room stays within three quarters full, so one address cannot take the last quarter:
 * 17 connections with a key (a browser's key is public) holding bodies they never sent took the
 * whole bound, and every other client got 503 (a review's run). A single producer is not held to
 * a quarter. Several addresses together can still take it all, with bodies they send, or with
 * 1,024 heads they do not.
 */
export class InflightBodies {
  private readonly roomBeforeBody: number;
  private held = 0;
  private keylessHeld = 0;
  private readonly heldByClient = new Map<string, number>();
  /** Requests whose room was given back: a gzip body may still inflate after its client left. */
  private readonly released = new WeakSet<FastifyRequest>();

  /** @param clientOf whom a request's room is counted against; undefined: no one's share. */
  constructor(
    private readonly maxBytes: number,
    private readonly clientOf: (request: FastifyRequest) => InflightClient | undefined = () => undefined,
  ) {
    this.roomBeforeBody = Math.max(1, Math.floor(maxBytes * ROOM_BEFORE_BODY_SHARE));
  }

  get heldBytes(): number {
    return this.held;
  }

  /**
   * onRequest: refuses a request whose body would not fit now, from its Content-Length (as sent:
   * a gzip body's inflation is counted as it inflates, `grow`; a body of unknown length, the
   * route's limit; asked for 8 times its size, as before the room was counted as bodies come, a
   * gzip batch of 131 KB needed half of a 1 MiB bound free, and an SDK that retries three times
   * lost it: a review's run with rudder-sdk-node), and takes the part
   * of that room it may hold before its body comes (ROOM_BEFORE_BODY_SHARE; `countArrival` takes
   * the rest as it comes). The room is given back when the response closes: once it is sent, and
   * also when the client went away first, whether or not its body had all come (Fastify's
   * onResponse and onRequestAbort miss a client gone after sending its whole body, and that room
   * would be held for good).
   */
  readonly admit: onRequestHookHandler = (request, reply, done) => {
    const room = this.roomFor(request);
    if (room === 0) return done();
    const client = this.clientOf(request);
    if (this.overloads(0, room, client)) return done(new errors.SPOOL_OVERLOADED());
    request.inflightClient = client;
    this.take(request, Math.min(room, this.roomBeforeBody));
    reply.raw.once('close', () => this.release(request));
    done();
  };

  /**
   * preParsing, before the body is decoded: the body as it arrives, each byte of it counted as
   * held (`grow`, SPOOL_OVERLOADED when no room is left for it), unless its room was all taken
   * before it came. A body past the route's limit is Fastify's 413, not counted past the limit.
   */
  readonly countArrival: preParsingHookHandler = (request, _reply, payload, done) => {
    const declared = Number(request.headers['content-length']);
    // A chunked body's NaN is never covered.
    if (request.heldBodyBytes >= declared) return done(null, payload);
    const limit = request.routeOptions.bodyLimit ?? Number.POSITIVE_INFINITY;
    const counted = new BodyCounter(Number.POSITIVE_INFINITY, (bytes) =>
      this.grow(request, Math.min(bytes, limit)),
    );
    payload.on('error', (error) => counted.destroy(error));
    // Fastify stops listening once it has answered; an error after that must not end the process.
    counted.on('error', () => {});
    // Read once its reader begins: a request answered before (a 415 for its media type or its
    // encoding) leaves its body to Node, which drops it and keeps the connection. Read at once,
    // the body sat unread after that answer, and the connection's next request waited for the
    // request timeout (a review's run).
    counted.once('resume', () => payload.pipe(counted));
    done(null, counted as unknown as typeof payload);
  };

  /**
   * More room for a body that arrived or inflated past what was taken for it, or whose parsed events take
   * more than that (exact-json.ts), or SPOOL_OVERLOADED (thrown: the body is read or kept no
   * further) when that would pass the bound while other requests hold room,
   * as a request that asked for it at the start would be refused. Only counted, 50 gzip bodies
   * let in at 8 times their size and inflating to 1 MB each held 2.5 times MAX_INFLIGHT_BYTES,
   * and an ingest with a 512 Mi pod's heap ran out of memory (a review's runs).
   */
  readonly grow = (request: FastifyRequest, inflatedBytes: number): void => {
    // Its response closed already (a client gone after sending its whole body, while zlib still
    // inflated it): counted now, it would be held for good.
    if (this.released.has(request) || inflatedBytes <= request.heldBodyBytes) return;
    const more = inflatedBytes - request.heldBodyBytes;
    // A keyless body grows within its shares too: 20 gzip heads let in at 16 KB each, then each
    // inflated to 1 MB, held the whole bound from one address (a review's run).
    if (this.overloads(request.heldBodyBytes, more, request.inflightClient)) {
      throw new errors.SPOOL_OVERLOADED();
    }
    this.take(request, more);
  };

  /**
   * Whether `more` bytes for a request that holds `own` already would pass the bound, or (a
   * keyless one's) the keyless half, or its client's quarter, while others hold room in it: one
   * that no one else holds room in lets a body of any allowed size in. A client that is not
   * keyless passes its quarter only while the room stays within FREE_SHARE.
   */
  private overloads(own: number, more: number, client: InflightClient | undefined): boolean {
    const past = (held: number, limit: number) => held - own > 0 && held + more > limit;
    if (past(this.held, this.maxBytes)) return true;
    if (client === undefined) return false;
    const pastShare = past(this.heldByClient.get(client.address) ?? 0, this.maxBytes * CLIENT_SHARE);
    if (!client.keyless) return pastShare && this.held + more > this.maxBytes * FREE_SHARE;
    return pastShare || past(this.keylessHeld, this.maxBytes * KEYLESS_SHARE);
  }

  /** Counts `bytes` more as held by the request, by its client, and by the keyless if it is. */
  private take(request: FastifyRequest, bytes: number): void {
    this.held += bytes;
    request.heldBodyBytes += bytes;
    const client = request.inflightClient;
    if (client === undefined) return;
    if (client.keyless) this.keylessHeld += bytes;
    const clientHeld = (this.heldByClient.get(client.address) ?? 0) + bytes;
    if (clientHeld === 0) this.heldByClient.delete(client.address);
    else this.heldByClient.set(client.address, clientHeld);
  }

  /** Gives the request's room back; nothing is held by it after. */
  private release(request: FastifyRequest): void {
    this.released.add(request);
    this.take(request, -request.heldBodyBytes);
  }

  private roomFor(request: FastifyRequest): number {
    const limit = request.routeOptions.bodyLimit;
    // Routes that read no body (health, metrics, settings, 404s) hold nothing.
    if (request.method !== 'POST' || request.is404 || limit === undefined) return 0;
    const length = request.headers['content-length'];
    // Without a Content-Length (chunked), the body may be as large as the route allows.
    if (length === undefined) return limit;
    const declared = Number(length);
    if (!Number.isFinite(declared) || declared < 0) return limit;
    return Math.min(declared, limit);
  }
}
