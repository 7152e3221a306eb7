import { randomUUID } from 'node:crypto';
import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestLogs } from '@spool/shared';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { earlyAnswerCorsHeaders } from './cors.js';
import { errors, invalidStream, RETRY_AFTER_SECONDS } from './errors.js';

/**
 * Every error answer the ingest gives, in one shape: `{statusCode, code, error, message}` with a
 * stable SPOOL_ code (docs/api.md), whether the error comes from a route, from Fastify before any
 * route ran (a malformed path), or from Node's HTTP parser (a request that is not valid HTTP).
 */
export interface ErrorAnswer {
  statusCode: number;
  /** Seconds, for the 503s a client should retry. */
  retryAfter: string | undefined;
  /** A failure of Spool's own (a 5xx but 503): logged, and answered without its details. */
  internal: boolean;
  body: { statusCode: number; code: string; error: string; message: string };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * A route's status for a request refused for its size (a body, a message or a request's
     * stored lines too large; else 413). The tracking API answers 400, as Segment documents for
     * payloads past its limits: analytics-swift drops a batch only on 2xx or 400, and kept one
     * refused with 413 to send again at every flush, for ever (docs/sdks.md).
     */
    tooLargeStatus?: 400;
  }
}

const STREAM_PATH = /^\/v1\/streams\/([^/?#]*)/;

/** Fastify's own errors, answered with Spool's stable codes and messages that repeat no URL. */
function normalise(error: FastifyError, bodyLimit: number, url: string): FastifyError {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new errors.SPOOL_BODY_TOO_LARGE(bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new errors.SPOOL_UNSUPPORTED_MEDIA_TYPE();
    case 'FST_ERR_MAX_PARAM_LENGTH': {
      // Before routing: the events route's stream name is the only parameter (the settings route's
      // key is a wildcard, of any length); the other answer is for a route that adds one.
      const stream = STREAM_PATH.exec(url)?.[1];
      return stream === undefined
        ? new errors.SPOOL_BAD_REQUEST('a path segment is longer than 100 characters')
        : invalidStream(stream);
    }
    case 'FST_ERR_BAD_URL':
      return new errors.SPOOL_BAD_REQUEST('the path is not a valid URL (a broken %-escape?)');
    default:
      return error;
  }
}

/**
 * The answer to `raw`, raised while serving a request to `url` whose body limit is `bodyLimit`
 * (and whose refusals for size answer `tooLargeStatus`).
 */
export function errorAnswer(
  raw: FastifyError,
  bodyLimit: number,
  url: string,
  tooLargeStatus: 400 | 413 = 413,
): ErrorAnswer {
  const error = normalise(raw, bodyLimit, url);
  const given = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
  const statusCode = given === 413 ? tooLargeStatus : given;
  const internal = statusCode >= 500 && statusCode !== 503;
  // Every answer carries a SPOOL_ code; one from Fastify or a plugin falls back to a generic one.
  const code = error.code?.startsWith('SPOOL_') ? error.code : 'SPOOL_BAD_REQUEST';
  const retryAfter =
    statusCode !== 503
      ? undefined
      : String(
          error.code === 'SPOOL_BUFFER_FULL' || error.code === 'SPOOL_REDIS_FULL'
            ? RETRY_AFTER_SECONDS.bufferFull
            : RETRY_AFTER_SECONDS.redisUnavailable,
        );
  return {
    statusCode,
    retryAfter,
    internal,
    body: {
      statusCode,
      code: internal ? 'SPOOL_INTERNAL' : code,
      error: STATUS_CODES[statusCode] ?? 'Error',
      message: internal ? 'Internal error' : error.message,
    },
  };
}

/** The SPOOL_ code each refused request was answered with, for its log line (request-logs.ts). */
const answeredCodes = new WeakMap<FastifyRequest, string>();

/** Sends an error answer, and remembers its code for the request's log line. */
export function sendErrorAnswer(
  request: FastifyRequest,
  reply: FastifyReply,
  answer: ErrorAnswer,
): FastifyReply {
  answeredCodes.set(request, answer.body.code);
  return reply.code(answer.statusCode).send(answer.body);
}

/** The code a request was refused with, if it was (`requestLogs`'s `codeOf`). */
export function answeredCodeOf(request: FastifyRequest): string | undefined {
  return answeredCodes.get(request);
}

/**
 * Fastify's `frameworkErrors`: errors before any route ran, answered as a route's would be, and
 * logged as every refusal is (`requestLogs`: Fastify logs no completion of these).
 */
export function answerFrameworkError(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
  requestLog: RequestLogs,
): void {
  const answer = errorAnswer(error, 0, request.url);
  reply.headers(earlyAnswerCorsHeaders(request.headers.origin)).header('x-request-id', request.id);
  sendErrorAnswer(request, reply, answer);
  requestLog.refused(request, reply, answer.body.code);
}

/** A client's request id: up to 128 visible ASCII characters (UUIDs, trace ids, ULIDs). */
const CLIENT_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The request's id: the client's `X-Request-Id` when it is one, else a new UUID. */
export function requestIdOf(request: { headers: Record<string, string | string[] | undefined> }): string {
  const id = request.headers['x-request-id'];
  return typeof id === 'string' && CLIENT_REQUEST_ID.test(id) ? id : randomUUID();
}

/** Node's parser errors: the request never became one (no route, no hooks). */
const CLIENT_ERROR_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/** The CORS headers as lines of a raw answer: a page can read a 408 or a 431 as any other. */
const CLIENT_ERROR_CORS_LINES = Object.entries(earlyAnswerCorsHeaders(undefined))
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join('');

/**
 * Fastify's `clientErrorHandler` (called with the server as `this`): a request that is not valid
 * HTTP (a Content-Length its body does not match, a broken header) or too slow still gets Spool's
 * JSON shape, a request id and the CORS headers, then the connection closes, and `requestLog`
 * tells it as it tells every refusal. A socket the client already reset gets nothing.
 */
export function clientErrorAnswers(requestLog: RequestLogs) {
  return function answerClientError(
    this: FastifyInstance,
    error: NodeJS.ErrnoException,
    socket: Socket,
  ): void {
    const answer = answerToClientError(error, socket);
    if (answer) requestLog.refusedUnread(this.log, { ...answer, reason: error.code ?? 'unknown' });
  };
}

/** What a client error was answered (see clientErrorAnswers), or nothing when it got no answer. */
function answerToClientError(error: NodeJS.ErrnoException, socket: Socket): ClientErrorAnswer | undefined {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy(error);
    return undefined;
  }
  const pending = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  // A request sent after one that closes the connection (`Connection: close`, HTTP/1.0's
  // default) is not processed (RFC 9112, 9.6), and gets no answer: a 400 told its client not to
  // send it again, and its events were lost (a review's run). The answer ahead ends the
  // connection as it finishes.
  if (error.code === 'HPE_CLOSED_CONNECTION') {
    if (!pending || pending.writableFinished) socket.destroy();
    return undefined;
  }
  // Told as it is decided: a pipelined request's answer may go first (below).
  const answer: ClientErrorAnswer = {
    statusCode: CLIENT_ERROR_STATUS[error.code ?? ''] ?? 400,
    code: 'SPOOL_BAD_REQUEST',
    reqId: randomUUID(),
  };
  // Bytes that are not HTTP after a whole request (pipelined, or a Content-Length short of its
  // body) while that request waits on its append: the raw 400 went out in its place, and its own
  // answer never did, though its events might be stored (a review's, 4 runs in 100). Its answer
  // goes first, then the 400, for the bytes that followed it, as pipelining orders them.
  // (A request whose body never arrived whole is the one the error is about: answered at once.)
  if (pending?.req.complete && !pending.writableFinished) {
    const answerAfter = () => {
      socket.off('close', forget);
      if (socket.writable) writeClientError(error, socket, answer);
      else socket.destroy();
    };
    const forget = () => pending.off('finish', answerAfter);
    // Before Node's own listener, which closes a connection whose parser failed.
    pending.prependOnceListener('finish', answerAfter);
    socket.once('close', forget);
    return answer;
  }
  writeClientError(error, socket, answer);
  return answer;
}

interface ClientErrorAnswer {
  statusCode: number;
  code: 'SPOOL_BAD_REQUEST';
  reqId: string;
}

/** Spool's JSON answer to a client error, written raw, and the connection closed after it. */
function writeClientError(error: NodeJS.ErrnoException, socket: Socket, answer: ClientErrorAnswer): void {
  const { statusCode, code, reqId } = answer;
  const reason = STATUS_CODES[statusCode] ?? 'Bad Request';
  const message =
    statusCode === 408
      ? 'The request did not arrive whole in time'
      : statusCode === 431
        ? 'The request headers are too large'
        : `The request is not valid HTTP (${error.code ?? 'unknown'})`;
  const body = JSON.stringify({ statusCode, code, error: reason, message });
  socket.end(
    `HTTP/1.1 ${statusCode} ${reason}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      // Node's answers carry one; an answer written here must too (RFC 9110, 6.6.1).
      `Date: ${new Date().toUTCString()}\r\n` +
      `X-Request-Id: ${reqId}\r\n` +
      CLIENT_ERROR_CORS_LINES +
      'Connection: close\r\n\r\n' +
      body,
  );
  // end() closes Spool's side only: a client that neither reads the answer nor closes its own
  // (trickling a byte now and then) kept the socket, and the in-flight room of its request, for
  // good: 17 such connections answered every other client 503 (a review's run).
  const linger = setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
}

/** How long a client has to read a 400, 408 or 431 before its connection is dropped. */
const CLIENT_ERROR_LINGER_MS = 2_000;
