import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import { errors } from './errors.js';

/**
 * A gzip body's room, as a multiple of its size as sent: event JSON inflates 5–10 times. A body
 * that inflates more takes more as it is read (`grow`), or is refused while others hold room.
 */
const GZIP_ROOM_PER_BYTE = 8;

/**
 * Of MAX_INFLIGHT_BYTES, what requests whose key is not known before their body (see
 * `keylessClient`) may hold together, and what those of one client address may hold.
 */
const KEYLESS_SHARE = 1 / 2;
const KEYLESS_CLIENT_SHARE = 1 / 4;

declare module 'fastify' {
  interface FastifyRequest {
    /** Bytes of MAX_INFLIGHT_BYTES this request holds until it is answered. */
    heldBodyBytes: number;
    /** The client address a keyless request's room is counted against (see `keylessClient`). */
    keylessClient: string | undefined;
  }
}

/**
 * The request bodies the ingest holds at once, bounded by MAX_INFLIGHT_BYTES: each body, parsed
 * into events and written again as lines, takes many times its size in memory until it is
 * answered (50 concurrent 1 MB requests took an ingest to 1.2 GiB), so past the bound a request
 * is refused before its body is read (`503 SPOOL_OVERLOADED`, retried by the SDKs) instead of the
 * process running out of memory with every request in it. A request is let in whenever nothing
 * is held, so one of any allowed size always passes.
 *
 * Where keys are required, a request whose key comes only with its body (the tracking API's
 * `writeKey` field, a beacon's query) holds its room while it sends that body, key or none:
 * 16 connections that sent a head promising 1 MiB, and then nothing, held all 16 MiB for the 30 s
 * of the request timeout, and every keyed request got 503 (a review's run; again at once after
 * each timeout). So such requests together hold at most half the bound, and those of one client
 * address a quarter (each always let in when its share is empty): requests with a key in a header,
 * checked before the body is read, keep the rest. An open service has no keys to tell apart.
 */
export class InflightBodies {
  private held = 0;
  private keylessHeld = 0;
  private readonly heldByClient = new Map<string, number>();
  /** Requests whose room was given back: a gzip body may still inflate after its client left. */
  private readonly released = new WeakSet<FastifyRequest>();

  /**
   * @param keylessClient the client address of a request whose key is not known before its body
   *   is read; undefined for one whose key is (or on an open service).
   */
  constructor(
    private readonly maxBytes: number,
    private readonly keylessClient: (request: FastifyRequest) => string | undefined = () => undefined,
  ) {}

  get heldBytes(): number {
    return this.held;
  }

  /**
   * onRequest: takes the room the body will need, from its Content-Length (a gzip body's times
   * GZIP_ROOM_PER_BYTE; one of unknown length, the route's limit), or refuses the request. The
   * room is given back when the response closes: once it is sent, and also when the client went
   * away first, whether or not its body had all come (Fastify's onResponse and onRequestAbort
   * miss a client gone after sending its whole body, and that room would be held for good).
   */
  readonly admit: onRequestHookHandler = (request, reply, done) => {
    const room = this.roomFor(request);
    if (room === 0) return done();
    const client = this.keylessClient(request);
    if (this.overloads(0, room, client)) return done(new errors.SPOOL_OVERLOADED());
    request.keylessClient = client;
    this.take(request, room);
    reply.raw.once('close', () => this.release(request));
    done();
  };

  /**
   * More room for a body that inflated past what was taken for it, or whose parsed events take
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
    if (this.overloads(request.heldBodyBytes, more, request.keylessClient)) {
      throw new errors.SPOOL_OVERLOADED();
    }
    this.take(request, more);
  };

  /**
   * Whether `more` bytes for a request that holds `own` already (a keyless one of `client`) would
   * pass the bound, or the keyless half, or the client's quarter, while others hold room in it:
   * one that no one else holds room in lets a body of any allowed size in.
   */
  private overloads(own: number, more: number, client: string | undefined): boolean {
    const past = (held: number, limit: number) => held - own > 0 && held + more > limit;
    if (past(this.held, this.maxBytes)) return true;
    if (client === undefined) return false;
    return (
      past(this.keylessHeld, this.maxBytes * KEYLESS_SHARE) ||
      past(this.heldByClient.get(client) ?? 0, this.maxBytes * KEYLESS_CLIENT_SHARE)
    );
  }

  /** Counts `bytes` more as held by the request (and by its client's share, if keyless). */
  private take(request: FastifyRequest, bytes: number): void {
    this.held += bytes;
    request.heldBodyBytes += bytes;
    const client = request.keylessClient;
    if (client === undefined) return;
    this.keylessHeld += bytes;
    const clientHeld = (this.heldByClient.get(client) ?? 0) + bytes;
    if (clientHeld === 0) this.heldByClient.delete(client);
    else this.heldByClient.set(client, clientHeld);
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
    const encoding = request.headers['content-encoding'];
    const room = encoding === undefined || encoding === 'identity' ? declared : declared * GZIP_ROOM_PER_BYTE;
    return Math.min(room, limit);
  }
}
