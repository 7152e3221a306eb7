import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { onRequestHookHandler } from 'fastify';

/** Each connection's latest response: a request pipelined behind it waits until it is sent. */
const latestResponse = new WeakMap<Socket, ServerResponse>();

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
  ahead.once('close', () => {
    // Node ends the connection as the answer that closes it finishes (before this listener).
    if (!socket.destroyed && !socket.writableEnded) return done();
    // Nothing is answered, and nothing runs: the client sends it again on a new connection.
    reply.hijack();
    done();
  });
};
