import { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, LogController } from 'fastify';

const PROBES = new Set(['/healthz', '/readyz', '/metrics', '/status.json']);

export interface RequestLogsOptions {
  /** Paths (by prefix) never logged, besides the probes: a board's polled API, say. */
  quietPrefixes?: readonly string[];
  /**
   * Where a request answered below 400 is logged: `info` (every request, an admin's port), or
   * `debug` (the ingest's public port), where `info` keeps one line for each refused or failed
   * request, with the request in it.
   */
  successesAt?: 'info' | 'debug';
  /** The stable code a refused request was answered with (the ingest's `SPOOL_` codes), for its line. */
  codeOf?: (request: FastifyRequest) => string | undefined;
}

/**
 * Which requests a server logs. Never probes, scrapes or the status page's polling, which would
 * drown the log. On the ingest, a request answered below 400 is logged at `debug` only: two lines
 * for every accepted request (Fastify's) took some 40 % more of the ingest's CPU a request than none
 * at the default `LOG_LEVEL=info` (docs/benchmarks.md), and sent two lines to the log shipper
 * for each request. What an operator looks for at `info`, a refusal and why, keeps its line.
 */
export function requestLogs({
  quietPrefixes = [],
  successesAt = 'info',
  codeOf = () => undefined,
}: RequestLogsOptions = {}): LogController {
  // Runs for every request: no split.
  const quiet = (request: FastifyRequest) => {
    const { url } = request;
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    return PROBES.has(path) || quietPrefixes.some((prefix) => path.startsWith(prefix));
  };
  return successesAt === 'info'
    ? new LogController({ disableRequestLogging: quiet })
    : new RefusalsAtInfo({ disableRequestLogging: quiet }, codeOf);
}

/** pino's loggers (and the ingest's lazy request logger) have it; Fastify's base type does not say so. */
function logsDebug(log: FastifyBaseLogger): boolean {
  return (log as FastifyBaseLogger & { isLevelEnabled(level: string): boolean }).isLevelEnabled('debug');
}

/** Fastify's request lines, at `debug` for a request answered below 400. */
class RefusalsAtInfo extends LogController {
  constructor(
    options: ConstructorParameters<typeof LogController>[0],
    private readonly codeOf: (request: FastifyRequest) => string | undefined,
  ) {
    super(options);
  }

  override incomingRequest(request: FastifyRequest): void {
    // The level first: at `info` and above, the path is never looked at for an incoming request.
    if (logsDebug(request.log) && !this.isLogDisabled(request)) {
      request.log.debug({ req: request }, 'incoming request');
    }
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (error) {
      super.requestCompleted(error, request, reply, metadata);
      return;
    }
    const refused = reply.statusCode >= 400;
    if (!refused && !logsDebug(reply.log)) return;
    if (this.isLogDisabled(request)) return;
    if (refused) {
      logRefusal(request, reply, this.codeOf(request));
    } else {
      reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
    }
  }
}

/**
 * A refused request's line at `info`: one that says it all, and why (its `code`), since no
 * `incoming request` line came before it at that level.
 */
export function logRefusal(request: FastifyRequest, reply: FastifyReply, code: string | undefined): void {
  reply.log.info(
    { req: request, res: reply, ...(code ? { code } : {}), responseTime: reply.elapsedTime },
    'request completed',
  );
}
