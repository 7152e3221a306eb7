import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import {
  ABSOLUTE_FORM,
  type Config,
  closeConnectionsOnClose,
  createLogger,
  type FlushJobData,
  healthRoutes,
  lazyChildLogger,
  loggableUrl,
  methodAnswered,
  rateLimitNamespace,
  redisClusterDown,
  redisIsReplica,
  redisNotReady,
  requestLogs,
  SLOW_CLIENT_LIMITS,
  type SlowClientLimits,
} from '@spool/shared';
import type { Queue } from 'bullmq';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type onRequestAsyncHookHandler,
} from 'fastify';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import {
  addressBucket,
  createWriteKeyCheck,
  decidingHeaderKey,
  rateLimitIdentity,
  writeKeyVerifier,
} from './auth.js';
import { requestAddress, trustedProxies } from './client-address.js';
import { CORS_OPTIONS } from './cors.js';
import {
  answeredCodeOf,
  answerFrameworkError,
  clientErrorAnswers,
  errorAnswer,
  requestIdOf,
  sendErrorAnswer,
} from './error-answers.js';
import { errors } from './errors.js';
import { FlusherWatch, type FlusherWatchOptions } from './flusher-watch.js';
import { GroupCommit } from './group-commit.js';
import { InflightBodies } from './inflight-bodies.js';
import { createIngestMetrics } from './metrics.js';
import { serveMetricsApart } from './metrics-server.js';
import { pipelinedRequests } from './pipelined-requests.js';
import { RedisRoom } from './redis-room.js';
import { eventsRoute } from './routes/events.js';
import { sdkConfigRoutes } from './routes/sdk-config.js';
import { BEACON_ROOM, trackingRoutes } from './routes/tracking.js';
import { loggedAddressUnder } from './tracking/client-ip.js';
import { readRestBeforeClosing } from './unread-bodies.js';
import { watchWriteKeyFile } from './write-key-file.js';

/** How long `/readyz` waits for Redis to say whether it is a replica (a slow Redis is not judged by it). */
const READY_ROLE_TIMEOUT_MS = 500;

export interface IngestDeps {
  config: Readonly<Config>;
  /** Connected with `enableOfflineQueue: false` and a command timeout, so an outage answers 503 quickly. */
  redis: Redis | Cluster;
  queue: Queue<FlushJobData>;
  logger?: Logger;
  /** SLOW_CLIENT_LIMITS, unless a test needs them short. */
  slowClientLimits?: SlowClientLimits;
  /** How often and how long the ingest looks for a flusher, unless a test needs them short. */
  flusherWatch?: Pick<FlusherWatchOptions, 'lookEveryMs' | 'unseenAfterMs'>;
}

/** The ingest's logger: its name, level, and what its request log keeps of a client's address. */
export function createIngestLogger(config: Pick<Config, 'logLevel' | 'tracking'>): Logger {
  return createLogger('spool-ingest', config.logLevel, loggedAddressUnder(config.tracking.ipPolicy));
}

/**
 * The URL with the slashes its path starts with made one: the Go SDKs join an endpoint that ends
 * in a slash into `//v1/batch` (`http://host//v1/batch` through a proxy), the same route. Only
 * those: the router's own merging of every doubled slash took a write key's `//` (base64) out of
 * the settings path, and answered it 401.
 */
function withoutLeadingSlashes(request: { url?: string }): string {
  const url = request.url ?? '/';
  const path = url.charCodeAt(0) === 0x2f ? 0 : (ABSOLUTE_FORM.exec(url)?.[0].length ?? 0);
  if (url.charCodeAt(path) !== 0x2f || url.charCodeAt(path + 1) !== 0x2f) return url;
  let first = path + 1;
  while (url.charCodeAt(first) === 0x2f) first += 1;
  return url.slice(0, path) + url.slice(first - 1);
}

/**
 * How long a stream goes uncounted before its metrics label may go to a new stream: an hour, the
 * registry's horizon at the flusher's default FLUSH_INTERVAL (the ingest does not read it).
 */
const STREAM_LABEL_IDLE_MS = 60 * 60_000;

/** Builds the ingest app; connects nothing and listens nowhere (main.ts does). */
export async function buildApp(deps: IngestDeps): Promise<FastifyInstance> {
  const { config, redis, queue } = deps;
  const metrics = createIngestMetrics({ streamIdleAfterMs: STREAM_LABEL_IDLE_MS });
  const requestLog = requestLogs({ successesAt: 'debug', codeOf: answeredCodeOf });
  const app = Fastify({
    loggerInstance: (deps.logger ?? createIngestLogger(config)) as FastifyBaseLogger,
    logController: requestLog,
    childLoggerFactory: lazyChildLogger as never,
    bodyLimit: config.maxBodyBytes,
    // The client's X-Request-Id when it is a plausible id, else a new UUID: the id is echoed,
    // logged and kept in the quarantine with every refused event, so its size must be bounded.
    genReqId: requestIdOf,
    requestIdHeader: false,
    // Off unless configured: X-Forwarded-For names the client only behind a proxy one trusts.
    trustProxy: config.trustProxy === false ? false : trustedProxies(config.trustProxy),
    // The events route refuses with a coded answer instead (SPOOL_SHUTTING_DOWN, Retry-After);
    // health and metrics keep answering (/readyz says 503) until the server closes.
    return503OnClosing: false,
    // Slow clients may not hold a connection forever (slowloris); values are documented in docs/api.md.
    ...(deps.slowClientLimits ?? SLOW_CLIENT_LIMITS),
    keepAliveTimeout: 72_000,
    rewriteUrl: withoutLeadingSlashes,
    // Errors before any route (a broken path) and requests that are not HTTP: Spool's answers too.
    frameworkErrors: (error, request, reply) => answerFrameworkError(error, request, reply, requestLog),
    clientErrorHandler: clientErrorAnswers(requestLog),
  });
  const room = new RedisRoom(redis, config.memoryReserve, app.log);
  await room.start();
  metrics.flusherSeen.set(1);
  const flusherWatch = new FlusherWatch({
    redis,
    namespace: config.namespace,
    logger: app.log,
    onChange: (seen) => metrics.flusherSeen.set(seen ? 1 : 0),
    ...deps.flusherWatch,
  });
  flusherWatch.start();
  const groupCommit = new GroupCommit({
    config,
    redis,
    queue,
    logger: app.log,
    metrics,
    memoryReserve: () => room.reserveForAppend(),
  });
  let closing = false;

  // The per-request hooks take callbacks rather than being async: no promise per request per hook.
  // First of all: a request pipelined behind an answer that closes the connection is not handled.
  // It refuses, in its turn, one a proxy in front may frame or route otherwise (HTTP/1.0 chunked,
  // two Hosts): 400.
  app.addHook('onRequest', pipelinedRequests);
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Requests in flight when the server closes still get their append, and their answer.
  app.addHook('onClose', async () => {
    await groupCommit.drain();
    room.stop();
    flusherWatch.stop();
  });
  // Neither a keep-alive connection nor a client stopped halfway through its request holds the close.
  closeConnectionsOnClose(app);

  // Outside the events route and the tracking routes (which read theirs with parsers of their
  // own) no body is read: an unknown path answers 404, whatever it was sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => {
    payload.resume();
    done(null, undefined);
  });
  app.setNotFoundHandler(async (request) => {
    // Its message is logged too: a mistyped settings path would carry a write key.
    throw new errors.SPOOL_NOT_FOUND(methodAnswered(request.method), loggableUrl(request.url.slice(0, 200)));
  });
  app.setErrorHandler(async (raw: FastifyError, request, reply) => {
    // A route's own limit when it has one (the tracking API's MAX_BATCH_BYTES).
    const answer = errorAnswer(
      raw,
      request.routeOptions.bodyLimit ?? config.maxBodyBytes,
      request.url,
      request.routeOptions.config.tooLargeStatus,
    );
    if (answer.retryAfter !== undefined) reply.header('retry-after', answer.retryAfter);
    if (answer.internal) request.log.error({ err: raw }, 'request failed');
    readRestBeforeClosing(request, reply);
    return sendErrorAnswer(request, reply, answer);
  });

  await app.register(cors, CORS_OPTIONS);
  // A key in a header (Authorization, X-Write-Key) is checked before the body is read (a bad one
  // answered 401 at once); one in the body or the query, after it.
  const keys = writeKeyVerifier(config.writeKeys);
  const keyFile = config.settingFiles.WRITE_KEYS;
  if (keyFile !== undefined) {
    const stopWatching = watchWriteKeyFile({
      file: keyFile,
      keys,
      current: config.writeKeys,
      logger: app.log,
      readOk: metrics.keyFileReadOk,
    });
    app.addHook('onClose', async () => stopWatching());
  }
  const inflight = new InflightBodies(config.maxInflightBytes, (request) => ({
    address: addressBucket(requestAddress(request)),
    keyless: !keys.open && decidingHeaderKey(request.headers, keys) === undefined,
  }));
  metrics.watchInflightBodies(() => inflight.heldBytes);
  app.decorateRequest('heldBodyBytes', 0);
  app.decorateRequest('inflightClient', undefined);
  // After CORS's hook (a page must read the refusal), before any route's own: a request past
  // MAX_INFLIGHT_BYTES is refused unread.
  app.addHook('onRequest', inflight.admit);
  // Per verified write key, else per client address, counted in Redis so the limit holds across
  // ingest replicas. While Redis is away the limit is skipped: the append answers 503 anyway.
  app.decorateRequest('auth', undefined);
  await app.register(rateLimit, {
    global: false,
    redis,
    nameSpace: rateLimitNamespace(config.namespace),
    skipOnError: true,
    keyGenerator: (request) => rateLimitIdentity(request.auth, requestAddress(request)),
    errorResponseBuilder: (_request, context) => new errors.SPOOL_RATE_LIMITED(context.after),
  });
  const limits = { max: config.rateLimit.max, timeWindow: config.rateLimit.windowMs };
  const limiter = config.rateLimit.max > 0 ? app.rateLimit(limits) : undefined;
  const limited: onRequestAsyncHookHandler | undefined = limiter
    ? (request, reply) => limiter.call(app, request, reply)
    : undefined;
  // Beacons with a valid key (sendBeacon is never retried, so a 429 loses its events): counted in
  // the same buckets, and refused only past twice RATE_LIMIT_MAX (a browser key is public).
  const beaconCounter =
    config.rateLimit.max > 0
      ? app.createRateLimit({ ...limits, max: BEACON_ROOM * config.rateLimit.max })
      : undefined;
  const countBeacon = beaconCounter
    ? async (request: FastifyRequest, reply: FastifyReply) => {
        const state = await beaconCounter(request);
        if (state.isAllowed) return undefined;
        // The headers every other counted answer carries, of the beacon's own (wider) bucket.
        reply.header('x-ratelimit-limit', state.max);
        reply.header('x-ratelimit-remaining', state.remaining);
        reply.header('x-ratelimit-reset', state.ttlInSeconds);
        return state.isExceeded ? state.ttlInSeconds : undefined;
      }
    : undefined;
  await app.register(healthRoutes, {
    notReadyReason: async () => {
      if (closing) return 'shutting down';
      return (
        redisNotReady(redis) ??
        (await redisIsReplica(redis, READY_ROLE_TIMEOUT_MS)) ??
        (await redisClusterDown(redis, READY_ROLE_TIMEOUT_MS))
      );
    },
    ...(config.metricsPort === undefined
      ? { registry: metrics.registry, metricsHosts: config.metricsHosts }
      : {}),
    // No page reads these: with CORS, any page an employee opened could read the streams'
    // names and traffic from an ingest reachable only inside the network.
    routeConfig: { cors: false },
  });
  if (config.metricsPort !== undefined) {
    await serveMetricsApart(app, metrics.registry, {
      host: config.host,
      port: config.metricsPort,
      metricsHosts: config.metricsHosts,
    });
  }
  await app.register(trackingRoutes, {
    maxBatchBytes: config.tracking.maxBatchBytes,
    inflight,
    maxEventBytes: config.maxEventBytes,
    maxEventsPerRequest: config.maxEventsPerRequest,
    maxRequestStoredBytes: config.maxRequestStoredBytes,
    keys,
    defaultStream: config.tracking.defaultStream,
    ipPolicy: config.tracking.ipPolicy,
    rateLimit: limited,
    countBeacon,
    isClosing: () => closing,
    groupCommit,
    metrics,
  });
  await app.register(sdkConfigRoutes, { keys, rateLimit: limited });
  await app.register(eventsRoute, {
    maxBodyBytes: config.maxBodyBytes,
    inflight,
    maxEventBytes: config.maxEventBytes,
    maxEventsPerRequest: config.maxEventsPerRequest,
    maxRequestStoredBytes: config.maxRequestStoredBytes,
    checkWriteKey: createWriteKeyCheck(keys),
    rateLimit: limited,
    isClosing: () => closing,
    groupCommit,
    metrics,
  });
  return app;
}
