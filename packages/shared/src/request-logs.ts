import { type FastifyBaseLogger, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { loggableUrl } from './logger.js';
import { type RepeatedLog, repeatedLog, repeatedLogPerKey } from './repeated-log.js';

const PROBES = new Set(['/healthz', '/readyz', '/metrics', '/status.json']);

/** The most of a path a refusal's line keeps: a path is the client's, of any length up to Node's limit. */
const LOGGED_PATH_CHARS = 200;

export interface RequestLogsOptions {
  /** Paths (by prefix) never logged, besides the probes: a board's polled API, say. */
  quietPrefixes?: readonly string[];
  /**
   * Where a request answered below 400 is logged, in one line with the request: `info` (an
   * admin's port, where each is an operator's act) or `debug` (the ingest's public port).
   */
  successesAt?: 'info' | 'debug';
  /** The stable code a refused request was answered with (the ingest's `SPOOL_` codes), for its line. */
  codeOf?: (request: FastifyRequest) => string | undefined;
}

/**
 * Which requests a server logs, and how. Never probes, scrapes or the status page's polling,
 * which would drown the log.
 *
 * At `debug`, every request as Fastify logs it: `incoming request`, then `request completed`.
 *
 * At `info`, a request answered below 400 is one line with its request where `successesAt` is
 * `info`, and none on the ingest: Fastify's two lines for every accepted request took some 40 %
 * more of the ingest's CPU a request than none (docs/benchmarks.md). Refused requests are told
 * as every repeated line is (`repeatedLog`): the first of each status and code at once, then once
 * per 10 s with how many came (`requests refused`, at `warn` for a 5xx, the service's own
 * refusal, `info` for a client's fault). A line for each was 3 MB of log a second under a
 * client's wrong key, and its backlog in pino's buffer grew the ingest past 512 MiB (a review's
 * runs). Its path without the query (which may hold anything: Segment's pixel sends a whole event
 * as `?data=`), its method, status, code and request id are kept, nothing that holds the request.
 */
export function requestLogs({
  quietPrefixes = [],
  successesAt = 'info',
  codeOf = () => undefined,
}: RequestLogsOptions = {}): RequestLogs {
  const quiet = (request: FastifyRequest) => {
    const path = pathOf(request.url);
    return PROBES.has(path) || quietPrefixes.some((prefix) => path.startsWith(prefix));
  };
  return new RequestLogs({ disableRequestLogging: quiet }, successesAt, codeOf);
}

/**
 * A request target's path, without its query or fragment (a `#data=…` may hold an event as much
 * as a `?data=`: a review's run logged one). Runs for every request: no split, no regex.
 */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  const fragment = url.indexOf('#');
  const end = query === -1 ? fragment : fragment === -1 ? query : Math.min(query, fragment);
  return end === -1 ? url : url.slice(0, end);
}

/**
 * A refused request's path as its line keeps it: without query or fragment, its credentials
 * hidden, at most LOGGED_PATH_CHARS. An absolute-form target (`http://user:<key>@host/…`) has them
 * hidden before it is cut: a cut could drop the `@` that marks them as credentials, and a key of
 * 200 characters was logged so (a review's run). An origin-form path (every client's usual form)
 * is cut first: hiding reads the whole text, and a refusal storm's paths may be 16 KB each.
 */
function loggedPath(url: string): string {
  const path = pathOf(url);
  return path.startsWith('/')
    ? loggableUrl(path.slice(0, LOGGED_PATH_CHARS))
    : loggableUrl(path).slice(0, LOGGED_PATH_CHARS);
}

/** pino's loggers (and the ingest's lazy request logger) have it; Fastify's base type does not say so. */
function logsDebug(log: FastifyBaseLogger): boolean {
  return (log as FastifyBaseLogger & { isLevelEnabled(level: string): boolean }).isLevelEnabled('debug');
}

/** The request lines of one server (see requestLogs). */
export class RequestLogs extends LogController {
  private readonly refusalLines = repeatedLogPerKey();

  constructor(
    options: ConstructorParameters<typeof LogController>[0],
    private readonly successesAt: 'info' | 'debug',
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
    if (!refused && this.successesAt === 'debug' && !logsDebug(reply.log)) return;
    if (this.isLogDisabled(request)) return;
    if (refused) {
      this.refused(request, reply, this.codeOf(request));
    } else if (this.successesAt === 'info') {
      reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    } else {
      reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
    }
  }

  /**
   * A refused request's line: each at `debug`, with its request; else the repeated line of its
   * status and code. For the answers Fastify logs no completion of (a request refused before
   * routing), the server calls it itself.
   */
  refused(request: FastifyRequest, reply: FastifyReply, code: string | undefined): void {
    if (logsDebug(reply.log)) {
      reply.log.debug(
        { req: request, res: reply, ...(code ? { code } : {}), responseTime: reply.elapsedTime },
        'request completed',
      );
      return;
    }
    this.refusalLine(
      request.server.log,
      reply.statusCode,
      code,
    )(undefined, { reqId: request.id, method: request.method, path: loggedPath(request.url) });
  }

  /**
   * A request Node's parser refused before it became one (not valid HTTP, headers past its
   * limit, not whole in time), answered by the server's own `clientErrorHandler`: no method or
   * path to tell, only the parser's reason (`HPE_INVALID_HEADER_TOKEN`) and the answer's request
   * id. Told as every refusal is: a page's 431s for its cookies were in no log (a review's run).
   */
  refusedUnread(
    log: FastifyBaseLogger,
    answer: { statusCode: number; code: string; reqId: string; reason: string },
  ): void {
    const { statusCode, code, ...fields } = answer;
    if (logsDebug(log)) {
      log.debug({ statusCode, code, ...fields }, 'request refused before it was read');
      return;
    }
    this.refusalLine(log, statusCode, code)(undefined, fields);
  }

  /** The repeated line of one status and code: both on each of its lines, its `stopped` line too. */
  private refusalLine(log: FastifyBaseLogger, statusCode: number, code: string | undefined): RepeatedLog {
    return this.refusalLines(`${statusCode} ${code ?? ''}`, () =>
      repeatedLog(log, 'requests refused', {
        level: statusCode >= 500 ? 'warn' : 'info',
        fields: { statusCode, ...(code ? { code } : {}) },
      }),
    );
  }
}
