import { isValidStreamName, ownStreamName } from '@spool/shared';
import type {
  FastifyInstance,
  FastifyRequest,
  onRequestAsyncHookHandler,
  onRequestHookHandler,
} from 'fastify';
import { requestClient } from '../abandoned-requests.js';
import type { AuthResult } from '../auth.js';
import { decodingHook } from '../body/decompress.js';
import {
  type BodyForm,
  declaresOtherCharset,
  MEDIA_TYPES,
  type ParsedBody,
  parseBody,
} from '../body/parse-body.js';
import { toLines } from '../body/to-lines.js';
import { errors, invalidStream } from '../errors.js';
import type { InflightBodies } from '../inflight-bodies.js';
import { isoTime } from '../iso-time.js';
import { type StoreDeps, storeLines } from './store-lines.js';

export interface EventsRouteOptions extends StoreDeps {
  maxBodyBytes: number;
  /** MAX_INFLIGHT_BYTES: told how much of a body has come, and how far a gzip body inflates. */
  inflight: InflightBodies;
  maxEventBytes: number;
  maxEventsPerRequest: number;
  maxRequestStoredBytes: number;
  checkWriteKey(authorization: string | undefined, stream: string): AuthResult;
  /** The rate limit's onRequest step (it reads `request.auth`), or undefined when there is none. */
  rateLimit: onRequestAsyncHookHandler | undefined;
  /** True once the instance is shutting down: requests then go to another instance. */
  isClosing(): boolean;
}

interface EventsRoute {
  Params: { stream: string };
  Body: ParsedBody;
}

/** `POST /v1/streams/:stream/events`: see docs/api.md. */
export async function eventsRoute(app: FastifyInstance, options: EventsRouteOptions): Promise<void> {
  const { maxBodyBytes, maxEventsPerRequest, checkWriteKey, metrics } = options;
  const lineLimits = { maxEventBytes: options.maxEventBytes, maxStoredBytes: options.maxRequestStoredBytes };

  // Only the API's own media types; anything else is 415 before a byte of the body is read.
  app.removeAllContentTypeParsers();
  for (const [mediaType, form] of Object.entries(MEDIA_TYPES) as Array<[string, BodyForm]>) {
    app.addContentTypeParser(
      mediaType,
      { parseAs: 'buffer', bodyLimit: maxBodyBytes },
      (request, raw, done) => {
        try {
          // A body whose events take more than its size counts as much (exact-json.ts).
          const weigh = (heapBytes: number) => options.inflight.grow(request, heapBytes);
          done(null, parseBody(raw as Buffer, form, maxEventsPerRequest, weigh));
        } catch (error) {
          done(error as Error, undefined);
        }
      },
    );
  }

  // Callback hooks, not async ones: no promise per request per hook on the busiest route.
  // Everything is decided before the body is read: a refused request costs nothing. The key is
  // checked first but refused only after the rate limit has counted the request, so refused keys
  // count against their address and guessing keys is limited like anything else.
  const authenticate = (request: FastifyRequest) => {
    request.auth = checkWriteKey(
      request.headers.authorization,
      (request.params as EventsRoute['Params']).stream,
    );
  };
  const refusal = (request: FastifyRequest): Error | undefined => {
    const { stream } = request.params as EventsRoute['Params'];
    const auth = request.auth as AuthResult;
    if (options.isClosing()) return new errors.SPOOL_SHUTTING_DOWN();
    if (!auth.ok && auth.status === 401) return new errors.SPOOL_UNAUTHORIZED(auth.reason);
    if (!isValidStreamName(stream)) return invalidStream(stream);
    if (!auth.ok) return new errors.SPOOL_FORBIDDEN(stream);
    if (declaresOtherCharset(request.headers['content-type']))
      return new errors.SPOOL_UNSUPPORTED_MEDIA_TYPE();
    return undefined;
  };
  const onRequest: Array<onRequestHookHandler | onRequestAsyncHookHandler> = options.rateLimit
    ? [
        (request, _reply, done) => {
          authenticate(request);
          done();
        },
        options.rateLimit,
        (request, _reply, done) => done(refusal(request)),
      ]
    : [
        (request, _reply, done) => {
          authenticate(request);
          done(refusal(request));
        },
      ];

  app.post<EventsRoute>('/v1/streams/:stream/events', {
    onRequest,
    // Every answer of this route, refusals included, counted by status.
    onResponse: (_request, reply, done) => {
      metrics.countRequest('native', reply.statusCode);
      done();
    },
    preParsing: [options.inflight.countArrival, decodingHook(maxBodyBytes, options.inflight.grow)],
    handler: async (request, reply) => {
      // Kept past the request (the stream registration, the metrics' labels): not the URL's slice.
      const stream = ownStreamName(request.params.stream);
      // No body and no Content-Type: Fastify runs no parser at all.
      if (request.body === undefined) throw new errors.SPOOL_EMPTY_BATCH();
      const received = new Date();
      const lines = toLines(request.body, received, lineLimits);
      const stored = await storeLines(options, stream, request.body.shape, lines, {
        id: request.id,
        at: isoTime(received),
        client: requestClient(request, reply),
      });
      return reply.code(202).send(stored);
    },
  });
}
