import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { refuseIfAmbiguous } from '@spool/shared';
import type { FastifyReply, onRequestHookHandler } from 'fastify';

/** What a connection's requests wait on. */
interface Connection {
  /**
   * Its latest response until it is sent: a request pipelined behind it waits until then. Not
   * kept after: a response holds its request, and so the request's parsed body, which an idle
   * keep-alive connection held for up to its 72 s, beyond MAX_INFLIGHT_BYTES (a review's 128 MB
   * heap ran out after 10 connections, each idle after one 777 KB body).
   */
  latest: ServerResponse | undefined;
  /** Its requests waiting on the one ahead of them. */
  waiting: number;
  /** This module stopped reading it, to be read again once fewer requests wait. */
  paused: boolean;
}
const connections = new WeakMap<Socket, Connection>();

/**
 * Requests a connection may have waiting before it is read no further, until they are answered.
 * Node reads on while requests wait, with no answer queued to slow it: one connection that
 * pipelined 200,000 requests and read no answer held 497 MiB of heap (a review's run). Dropped
 * instead, the connection lost the answer of a request already stored (a review's run).
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
  // Its connection ended already (an answer that closes it went while this one was being read):
  // nothing can be answered on it.
  if (socket.writableEnded || socket.destroyed) return leaveUnhandled(reply, done);
  let connection = connections.get(socket);
  if (connection === undefined) {
    connection = { latest: undefined, waiting: 0, paused: false };
    connections.set(socket, connection);
  }
  const ahead = connection.latest;
  becomesLatest(connection, reply.raw);
  if (ahead === undefined || ahead.writableFinished) return refuseIfAmbiguous(request, reply, done);
  connection.waiting += 1;
  if (connection.waiting > MOST_WAITING && !connection.paused) {
    connection.paused = true;
    // Once the parser is done with what it holds: paused while it runs, it takes that for an error.
    setImmediate(() => {
      if (connection.paused) readingOf(socket, 'pause');
    });
  }
  ahead.once('close', () => {
    connection.waiting -= 1;
    if (connection.waiting <= MOST_WAITING && connection.paused) {
      connection.paused = false;
      readingOf(socket, 'resume');
    }
    // Node ends the connection as the answer that closes it finishes (before this listener).
    if (!socket.destroyed && !socket.writableEnded) return refuseIfAmbiguous(request, reply, done);
    leaveUnhandled(reply, done);
  });
};

/** `response` is the one its connection's next request waits on, until it is sent. */
function becomesLatest(connection: Connection, response: ServerResponse): void {
  connection.latest = response;
  response.once('close', () => {
    if (connection.latest === response) connection.latest = undefined;
  });
}

/** Nothing is answered, and nothing runs: the client sends it again on a new connection. */
function leaveUnhandled(reply: FastifyReply, done: () => void): void {
  reply.hijack();
  done();
}

/**
 * Stops or starts reading a connection, as Node does when answers back up behind pipelined
 * requests: its socket, and the HTTP parser Node gives it (`socket.parser`), which reads the
 * socket's handle itself; the socket's own pause does not stop it.
 */
function readingOf(socket: Socket, how: 'pause' | 'resume'): void {
  const parser = (socket as Socket & { parser?: { pause(): void; resume(): void } | null }).parser;
  if (how === 'pause') {
    socket.pause();
    parser?.pause();
  } else {
    parser?.resume();
    socket.resume();
  }
}
