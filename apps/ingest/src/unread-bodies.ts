import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** How long a client has to send the rest of a body refused unread, before its connection is dropped. */
const UNREAD_BODY_LINGER_MS = 2_000;

/**
 * For an answer that closes the connection before the request's body was all read (a 413 from
 * its Content-Length, a body that does not parse or decode, 503 SPOOL_OVERLOADED as it arrives):
 * the rest of the body is read and dropped, and the connection closed once the client closes its
 * side, or UNREAD_BODY_LINGER_MS after the answer. Closed at once, as Node closes it, the bytes
 * still coming made the kernel answer with a reset: a client still sending its body got EPIPE,
 * not its answer (fetch, with bodies of 2 MiB and more, nearly every time), and an SDK sends such
 * a body again (a review's run).
 */
export function readRestBeforeClosing(request: FastifyRequest, reply: FastifyReply): void {
  if (request.raw.complete) return;
  // A body begun (a gzip body is inflated as it comes) and not read to its end: kept, the
  // connection would wait on it, its next request unread until the request timeout. One never
  // begun Node reads and drops itself, keeping the connection.
  if (request.raw.readableFlowing !== null) reply.header('connection', 'close');
  if (reply.getHeader('connection') !== 'close') return;
  // Dropped as it comes; a body refused part-read was left paused.
  request.raw.resume();
  const socket: Socket = request.raw.socket;
  // What Node calls once an answer that closes the connection has been written: it ended the
  // socket and destroyed it as soon as the end was sent.
  socket.destroySoon = function closeOnceClientIsDone(this: Socket) {
    this.end();
    const linger = setTimeout(() => this.destroy(), UNREAD_BODY_LINGER_MS);
    linger.unref();
    this.once('close', () => clearTimeout(linger));
  };
}
