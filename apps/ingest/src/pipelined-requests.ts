import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { onRequestHookHandler } from 'fastify';

/** Each connection's latest response: a request pipelined behind it waits until it is sent. */
const latestResponse = new WeakMap<Socket, ServerResponse>();
/** Each connection's requests waiting on the one ahead of them. */
const waiting = new WeakMap<Socket, number>();

/**
 * Requests a connection may have waiting: past it, the connection is dropped. Node reads on while
 * requests wait, with no answer queued to slow it: one connection that pipelined 200,000 requests
 * and read no answer held 497 MiB of heap (a review's run). No client pipelines so deep.
 */
const MOST_WAITING = 32;

/**
 * onRequest, before any other hook: a request pipelined behind one not yet answered (HTTP/1.1
 * lets a client send several before reading) waits for that answer, and is not handled at all
 * if the answer closed the connection. Node parses and hands over every request it has read, but
 * sends nothing after an answer that closes the connection (a body that does not parse, one too
 * large): the requests behind it were stored and never answered, so their client sent them
 * again, and events without a messageId of their own were stored twice (a review's run). Browsers
 * and the SDKs do not pipeline, so waiting costs them nothing.
 */
export const pipelinedRequests: onRequestHookHandler = (request, reply, done) => {
  const socket = request.raw.socket;
  const ahead = latestResponse.get(socket);
  latestResponse.set(socket, reply.raw);
  if (ahead === undefined || ahead.writableFinished) return done();
  const queued = (waiting.get(socket) ?? 0) + 1;
  if (queued > MOST_WAITING) {
    reply.hijack();
    socket.destroy();
    return done();
  }
  waiting.set(socket, queued);
  ahead.once('close', () => {
    waiting.set(socket, (waiting.get(socket) ?? 1) - 1);
    // Node ends the connection as the answer that closes it finishes (before this listener).
    if (!socket.destroyed && !socket.writableEnded) return done();
    // Nothing is answered, and nothing runs: the client sends it again on a new connection.
    reply.hijack();
    done();
  });
};
