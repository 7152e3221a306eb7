import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onErrorHookHandler,
  onRequestAsyncHookHandler,
  onRequestHookHandler,
  preHandlerHookHandler,
} from 'fastify';
import { requestClient } from '../abandoned-requests.js';
import { decidingHeaderKey, headerKey, INVALID_WRITE_KEY, urlKey, type WriteKeyVerifier } from '../auth.js';
import { decodingHook } from '../body/decompress.js';
import { checkEvent, isPlainObject, mendLoneSurrogates } from '../body/event-rules.js';
import { type ParsedBody, parseJsonValue } from '../body/parse-body.js';
import { toLines } from '../body/to-lines.js';
import { requestAddress } from '../client-address.js';
import { errors } from '../errors.js';
import type { InflightBodies } from '../inflight-bodies.js';
import { isoTime } from '../iso-time.js';
import { type IpPolicy, requestIpPolicy } from '../tracking/client-ip.js';
import {
  MESSAGE_TYPES,
  type MessageEnvelope,
  type MessageType,
  messageNormalizer,
  nonObjectMergedField,
  quarantineText,
  SERVER_FIELDS_BYTES,
} from '../tracking/message.js';
import { type StoreDeps, storeLines } from './store-lines.js';

export interface TrackingRouteOptions extends StoreDeps {
  /** MAX_BATCH_BYTES: a body's most, after decompression. */
  maxBatchBytes: number;
  /** MAX_INFLIGHT_BYTES: told how much of a body has come, and how far a gzip body inflates. */
  inflight: InflightBodies;
  maxEventBytes: number;
  maxEventsPerRequest: number;
  maxRequestStoredBytes: number;
  keys: WriteKeyVerifier;
  /** Where `*` keys and an open service write (DEFAULT_STREAM). */
  defaultStream: string;
  ipPolicy: IpPolicy;
  /** The rate limit's step (it reads `request.auth`), or undefined when there is none. */
  rateLimit: onRequestAsyncHookHandler | undefined;
  /**
   * Counts a beacon with a valid key in its rate-limit bucket, resolving with the seconds to wait
   * when it is past BEACON_ROOM × RATE_LIMIT_MAX, else undefined; undefined when there is no limit.
   * Sets the answer's X-RateLimit-* headers.
   */
  countBeacon: ((request: FastifyRequest, reply: FastifyReply) => Promise<number | undefined>) | undefined;
  isClosing(): boolean;
}

/** Single-message routes: Segment's, and analytics.js's short ones, with the type each implies. */
const SINGLE_ROUTES: Record<string, MessageType> = {
  '/v1/track': 'track',
  '/v1/t': 'track',
  '/v1/identify': 'identify',
  '/v1/i': 'identify',
  '/v1/page': 'page',
  '/v1/p': 'page',
  '/v1/screen': 'screen',
  '/v1/s': 'screen',
  '/v1/group': 'group',
  '/v1/g': 'group',
  '/v1/alias': 'alias',
  '/v1/a': 'alias',
};

/**
 * Jitsu's single-message routes, as its server has them: `/api/s/<type>` from pages, and
 * `/api/s/s2s/<type>` from servers, each type also by its first letter (`/api/s/t`); `event` (`e`)
 * takes the type from the message. Its key comes in a header (X-Write-Key, as @jitsu/js sends it,
 * or Authorization) or as `?writekey=`, never from the body: @jitsu/js puts the key there masked
 * (`id:***`). Its messages need no `userId` or `anonymousId` (its cookieless mode sends neither),
 * and a page's `context.ip` is the request's, as Jitsu stores it.
 */
const JITSU_TYPE_NAMES: ReadonlyArray<readonly [string, MessageType | undefined]> = [
  ...MESSAGE_TYPES.flatMap((type) => [[type, type] as const, [type.charAt(0), type] as const]),
  ['event', undefined],
  ['e', undefined],
];
const JITSU_ROUTES = JITSU_TYPE_NAMES.flatMap(([name, type]) => [
  { url: `/api/s/${name}`, type, fromPage: true },
  { url: `/api/s/s2s/${name}`, type, fromPage: false },
]);

/** Jitsu's batch route (its server clients'): `{batch: [...], context?, sentAt?, writeKey?}`. */
const JITSU_BATCH_ROUTE = '/api/s/s2s/batch';

/**
 * How many times RATE_LIMIT_MAX a key's beacons may reach in a window before they too are refused:
 * room past the limit, since a beacon is never retried, but not unlimited room (a browser key is
 * public, and a beacon may carry a full batch).
 */
export const BEACON_ROOM = 2;

/** The route of `navigator.sendBeacon` (rudder-analytics-js on page unload): its key is in its query. */
const BEACON_ROUTE = '/beacon/v1/batch';

/** Batch routes: `{batch: [...], context?, sentAt?, writeKey?}`. */
const BATCH_ROUTES = ['/v1/batch', '/v1/import', '/v1/b', BEACON_ROUTE, JITSU_BATCH_ROUTE];

interface TrackingRequest {
  Body: unknown;
  Querystring: { writeKey?: string };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The stream a tracking request writes to, once its write key is known. */
    trackingStream?: string;
  }
}

/** The body's `writeKey`, where SDKs that send no Authorization header put it. */
function bodyKey(body: unknown): string | undefined {
  return isPlainObject(body) && typeof body.writeKey === 'string' ? body.writeKey : undefined;
}

/** What a batch body carries: its messages, and what they share. */
function batchOf(body: unknown, maxEvents: number) {
  if (!isPlainObject(body)) throw new errors.SPOOL_INVALID_BATCH('the body is not an object');
  if (!Array.isArray(body.batch)) throw new errors.SPOOL_INVALID_BATCH('"batch" is not an array');
  if (body.batch.length === 0) throw new errors.SPOOL_EMPTY_BATCH();
  if (body.batch.length > maxEvents) throw new errors.SPOOL_TOO_MANY_EVENTS(body.batch.length, maxEvents);
  const { context, integrations, sentAt } = body;
  // Merged into every message: held to a message's rules once here, and refused with the batch
  // (a message's own non-object context is refused; a batch's was dropped under a 200).
  const notAnObject = nonObjectMergedField(body);
  if (notAnObject) throw new errors.SPOOL_INVALID_BATCH(`its "${notAnObject}" must be an object`);
  const shared = { context, integrations, sentAt };
  const problem = checkEvent(shared);
  const keyProblem = problem ? undefined : mendLoneSurrogates(shared);
  const refused = problem ?? (typeof keyProblem === 'object' ? keyProblem : undefined);
  if (refused) {
    throw new errors.SPOOL_INVALID_BATCH(`its "context", "integrations" or "sentAt": ${refused.message}`);
  }
  return { items: body.batch as unknown[], context, integrations, sentAt };
}

/**
 * The Segment-compatible tracking API (docs/sdks.md), on the native API's append path: one stored
 * line per message, the same buffers, flushes, exactly-once landing and messageId dedupe; and
 * Jitsu's routes. The write key may come as Basic user name, Bearer token, X-Write-Key (Jitsu's),
 * `writeKey` in the body, or in the query (the beacon's `?writeKey=`, Jitsu's `?writekey=`); a
 * key's messages go to its first stream in WRITE_KEYS, a `*` key's (and an open service's) to
 * DEFAULT_STREAM. Bodies are JSON whatever their Content-Type says (analytics.js
 * sends text/plain, rudder-sdk-node gzip with a form type).
 */
export async function trackingRoutes(app: FastifyInstance, options: TrackingRouteOptions): Promise<void> {
  const { keys, metrics, maxEventsPerRequest } = options;
  const lineLimits = {
    maxEventBytes: options.maxEventBytes + SERVER_FIELDS_BYTES,
    maxStoredBytes: options.maxRequestStoredBytes,
  };

  app.decorateRequest('trackingStream', undefined);
  // Fastify answers 415 to a Content-Type it cannot parse (`json`, an empty one, `a, b`) before
  // any parser runs, the catch-all below included: the type says nothing here, so it is replaced.
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.headers['content-type'] !== undefined) request.headers['content-type'] = 'text/plain';
    done();
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: options.maxBatchBytes },
    (request, raw, done) => {
      try {
        // A body whose messages take more than its size counts as much (exact-json.ts).
        done(
          null,
          parseJsonValue(raw as Buffer, (heapBytes) => options.inflight.grow(request, heapBytes)),
        );
      } catch (error) {
        done(error as Error, undefined);
      }
    },
  );

  // The key is checked first but refused only after the rate limit has counted the request. A key
  // in a header (the server SDKs', Jitsu's) is read before the body: such a request is
  // counted, and refused, without reading its body. Any other may carry its key in the body
  // (analytics.js does): it is counted after parsing, bounded by MAX_BATCH_BYTES.
  const authenticate = (
    request: FastifyRequest,
    presented: string | undefined,
    missing = 'A write key is required: Basic with the key as user name, Bearer, X-Write-Key, or "writeKey" in the body',
  ) => {
    const key = keys.verify(presented);
    if (keys.open) {
      request.auth = { ok: true };
      request.trackingStream = options.defaultStream;
    } else if (key) {
      request.auth = { ok: true, identity: key.identity };
      request.trackingStream = key.firstStream ?? options.defaultStream;
    } else {
      const reason = presented === undefined ? missing : INVALID_WRITE_KEY;
      request.auth = { ok: false, status: 401, reason };
    }
  };
  const refuseUnauthorized = (
    request: FastifyRequest,
    _reply: FastifyReply,
    done: (error?: Error) => void,
  ) => {
    if (request.auth && !request.auth.ok) done(new errors.SPOOL_UNAUTHORIZED(request.auth.reason));
    else done();
  };
  const authenticateFromHeader: onRequestHookHandler = (request, _reply, done) => {
    const presented = decidingHeaderKey(request.headers, keys);
    if (presented !== undefined) authenticate(request, presented);
    done();
  };
  const authenticateFromBody: preHandlerHookHandler = (request, _reply, done) => {
    if (request.auth === undefined) {
      // Last, a Bearer left for the body to decide (an OAuth token): with no key beside it, it is
      // the key the request presented, and is refused as one.
      authenticate(request, bodyKey(request.body) ?? urlKey(request.url) ?? headerKey(request.headers));
    }
    done();
  };
  // Jitsu's single-message routes: every place of their key is known before the body, so a
  // request is counted, and refused without one, before it is read.
  const authenticateJitsu: onRequestHookHandler = (request, _reply, done) => {
    authenticate(
      request,
      headerKey(request.headers) ?? urlKey(request.url),
      'A write key is required: X-Write-Key, Basic with the key as user name, Bearer, or ?writekey=',
    );
    done();
  };
  // The limiter counts a request once: where the key was read. (It runs once per request anyway.)
  const { rateLimit } = options;
  const countIfAuthenticated: onRequestAsyncHookHandler | undefined = rateLimit
    ? async function (request, reply) {
        if (request.auth !== undefined) await rateLimit.call(this, request, reply);
      }
    : undefined;
  // A shutdown refuses a request before its body only: one under way when SIGTERM came is stored
  // and answered, as the native API's (api.md, "Shutdown"). Refused once its body had come, a
  // beacon's or a Jitsu message, which are never sent again, was lost (a review's run).
  const refuseBeforeBody: onRequestHookHandler = (request, reply, done) => {
    if (options.isClosing()) return done(new errors.SPOOL_SHUTTING_DOWN());
    if (request.auth === undefined) return done();
    refuseUnauthorized(request, reply, done);
  };
  const onRequest = countIfAuthenticated
    ? [authenticateFromHeader, countIfAuthenticated, refuseBeforeBody]
    : [authenticateFromHeader, refuseBeforeBody];
  const preHandler = rateLimit
    ? [authenticateFromBody, rateLimit, refuseUnauthorized]
    : [authenticateFromBody, refuseUnauthorized];
  // A beacon is sent as the page goes away and is never retried: a 429 would lose its events, not
  // delay them. With a valid key it is counted, and refused only past BEACON_ROOM times the limit
  // (so the requests after it wait instead); a wrong key's is counted against its address.
  const { countBeacon } = options;
  const limitBeacon: preHandlerHookHandler | undefined =
    rateLimit && countBeacon
      ? function (request, reply, done) {
          // A key in the header (sendBeacon sends none) was counted and refused in onRequest.
          if (decidingHeaderKey(request.headers, keys) !== undefined) return done();
          const counted = request.auth?.ok
            ? countBeacon(request, reply)
            : rateLimit.call(this, request, reply).then(() => undefined);
          counted.then((retryAfter) => {
            if (retryAfter === undefined) return done();
            reply.header('retry-after', retryAfter);
            done(new errors.SPOOL_RATE_LIMITED(`${retryAfter} seconds`));
          }, done);
        }
      : undefined;
  const beaconPreHandler = limitBeacon ? [authenticateFromBody, limitBeacon, refuseUnauthorized] : preHandler;
  // Jitsu's SDK never sends a message again either, whatever the answer: a valid key's messages
  // get the beacon's room; a wrong key's count against its address.
  const limitJitsu: onRequestAsyncHookHandler | undefined =
    rateLimit && countBeacon
      ? async function (request, reply) {
          if (!request.auth?.ok) return rateLimit.call(this, request, reply);
          const retryAfter = await countBeacon(request, reply);
          if (retryAfter === undefined) return;
          reply.header('retry-after', retryAfter);
          throw new errors.SPOOL_RATE_LIMITED(`${retryAfter} seconds`);
        }
      : undefined;
  const jitsuOnRequest = limitJitsu
    ? [authenticateJitsu, limitJitsu, refuseBeforeBody]
    : [authenticateJitsu, refuseBeforeBody];

  const store = async (
    request: FastifyRequest,
    reply: FastifyReply,
    body: ParsedBody,
    envelope: MessageEnvelope & { received: Date },
  ) => {
    const lines = toLines(body, envelope.received, lineLimits, messageNormalizer(envelope), quarantineText);
    const stored = await storeLines(options, request.trackingStream as string, body.shape, lines, {
      id: request.id,
      at: envelope.receivedAt,
      // A beacon is never retried: its client gone, storing it is the only way its events land.
      client: request.routeOptions.url === BEACON_ROUTE ? undefined : requestClient(request, reply),
    });
    // Segment's answer, and Spool's counts beside it (SDKs read only the status).
    return reply.code(200).send({ success: true, ...stored });
  };
  const envelopeOf = (
    request: FastifyRequest,
    shared: Partial<MessageEnvelope> = {},
  ): MessageEnvelope & { received: Date } => {
    const received = new Date();
    return {
      received,
      receivedAt: isoTime(received),
      ip: requestAddress(request),
      ipPolicy: requestIpPolicy(options.ipPolicy, request.headers['x-ip-policy']),
      ...shared,
    };
  };
  // A request refused before its key was read (a body that does not parse, decode or fit) still
  // counts, against its address: else a stream of broken bodies, each parsed, is never limited.
  // (The limiter counts a request once, so one already counted is not counted again.)
  const countRefused: onErrorHookHandler | undefined = rateLimit
    ? function (request, reply, error, done) {
        // Only the client's own errors: not a 503 (SPOOL_OVERLOADED comes before any key is read).
        if (request.auth !== undefined || !((error.statusCode ?? 500) < 500)) return done();
        // Its 429 is not the answer: the request's own error is.
        rateLimit.call(this, request, reply).then(
          () => done(),
          () => done(),
        );
      }
    : undefined;
  const common = {
    bodyLimit: options.maxBatchBytes,
    // Segment's answer to a message or batch past its limits (error-answers.ts says why).
    config: { tooLargeStatus: 400 as const },
    onRequest,
    preParsing: [options.inflight.countArrival, decodingHook(options.maxBatchBytes, options.inflight.grow)],
    preHandler,
    ...(countRefused ? { onError: countRefused } : {}),
    onResponse: (_request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      metrics.countRequest('tracking', reply.statusCode);
      done();
    },
  };

  const storeOne =
    (shared: Partial<MessageEnvelope>) => async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.body === undefined) throw new errors.SPOOL_EMPTY_BATCH();
      return store(
        request,
        reply,
        { shape: 'single', items: [{ value: request.body }] },
        envelopeOf(request, shared),
      );
    };
  for (const [url, type] of Object.entries(SINGLE_ROUTES))
    app.post<TrackingRequest>(url, common, storeOne({ type }));
  for (const { url, type, fromPage } of JITSU_ROUTES) {
    app.post<TrackingRequest>(
      url,
      // Counted, and refused without a good key, before the body: nothing is left for preHandler.
      { ...common, onRequest: jitsuOnRequest, preHandler: [] },
      storeOne({ type, idsOptional: true, requestIpOnly: fromPage }),
    );
  }
  for (const url of BATCH_ROUTES) {
    const hooks = url === BEACON_ROUTE ? { ...common, preHandler: beaconPreHandler } : common;
    const idsOptional = url === JITSU_BATCH_ROUTE;
    app.post<TrackingRequest>(url, hooks, async (request, reply) => {
      if (request.body === undefined) throw new errors.SPOOL_EMPTY_BATCH();
      const { items, context, integrations, sentAt } = batchOf(request.body, maxEventsPerRequest);
      const body: ParsedBody = { shape: 'batch', items: items.map((value) => ({ value })) };
      return store(request, reply, body, envelopeOf(request, { context, integrations, sentAt, idsOptional }));
    });
  }
}
