import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * How long a request still arriving when close began may take to arrive whole: a 1 MiB body at
 * 2 Mbit/s. Half the ingest's 10 s shutdown grace, which its appends need the rest of.
 */
export const UNFINISHED_REQUEST_GRACE_MS = 5_000;

/**
 * Closes an app's connections as it closes. Answers from close on end their connection (no
 * keep-alive: a connection busy when close began would hold the server until keepAliveTimeout).
 * And `afterMs` after close began, the connections still sending a request are cut. Node's
 * `server.close()` waits for every connection with a request under way, and one that began a
 * request and stopped (its headers or its body half sent: slowloris, or a client gone without a
 * FIN) held the process until its shutdown grace ran out, and it exited 1 with its own work done.
 * Nothing is lost by the cut: such a request has been answered nothing, and its client, seeing
 * the connection end, sends it again elsewhere. A request received whole is left to be answered.
 * `afterMs` leaves a slow but live client time to finish its body first.
 */
export function closeConnectionsOnClose(app: FastifyInstance, afterMs = UNFINISHED_REQUEST_GRACE_MS): void {
  const connections = new Set<Socket>();
  /** Each connection's request being answered: received whole, or still arriving. */
  const current = new Map<Socket, { request: IncomingMessage; response: ServerResponse }>();
  let closing = false;
  const endsItsConnection = (response: ServerResponse) => {
    if (!response.headersSent) response.setHeader('connection', 'close');
  };
  app.server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => {
      connections.delete(socket);
      current.delete(socket);
    });
  });
  // Before Fastify's handler, which may answer at once.
  app.server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    const { socket } = request;
    current.set(socket, { request, response });
    response.once('close', () => {
      if (current.get(socket)?.request === request) current.delete(socket);
    });
    if (closing) endsItsConnection(response);
  });

  const cutUnfinished = () => {
    for (const socket of connections) {
      if (!current.get(socket)?.request.complete) socket.destroy();
    }
  };
  let timer: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closing = true;
    for (const { response } of current.values()) endsItsConnection(response);
    timer = setTimeout(cutUnfinished, afterMs);
    timer.unref();
  });
  app.addHook('onClose', async () => clearTimeout(timer));
}
