import { createServer, request, type Server } from 'node:http';
import type { Socket } from 'node:net';

export type S3Fault = 'none' | 'error500' | 'slow' | 'gone';

/**
 * An HTTP proxy in front of the S3-compatible server that injects faults: `error500` answers every
 * request with S3's InternalError, `slow` holds each request `slowMs` before forwarding it,
 * `gone` drops every connection (the store is unreachable).
 */
export class S3FaultProxy {
  fault: S3Fault = 'none';
  slowMs = 2_000;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<S3FaultProxy> {
    let proxy: S3FaultProxy | undefined;
    const server = createServer((incoming, outgoing) => {
      const fault = proxy?.fault ?? 'none';
      if (fault === 'gone') {
        incoming.socket.destroy();
        return;
      }
      if (fault === 'error500') {
        incoming.resume();
        outgoing.writeHead(500, { 'content-type': 'application/xml' });
        outgoing.end(
          '<?xml version="1.0"?><Error><Code>InternalError</Code><Message>injected</Message></Error>',
        );
        return;
      }
      const forward = () => {
        const upstream = request(
          {
            host: '127.0.0.1',
            port: targetPort,
            method: incoming.method,
            path: incoming.url,
            headers: incoming.headers,
          },
          (answer) => {
            outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(outgoing);
          },
        );
        upstream.on('error', () => outgoing.destroy());
        // A client gone mid-request (killed, or dropped by `gone`) must not leave its half-sent
        // request open upstream: the store would wait for the rest of the body, and never close.
        incoming.on('close', () => {
          if (!incoming.complete) upstream.destroy();
        });
        outgoing.on('close', () => {
          if (!outgoing.writableFinished) upstream.destroy();
        });
        incoming.pipe(upstream);
      };
      if (fault === 'slow') setTimeout(forward, proxy?.slowMs ?? 0);
      else forward();
    });
    server.on('connection', (socket: Socket) => {
      if (proxy?.fault === 'gone') {
        socket.destroy();
        return;
      }
      proxy?.sockets.add(socket);
      socket.on('close', () => proxy?.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    proxy = new S3FaultProxy(server, address.port);
    return proxy;
  }

  /** Sets a fault; `gone` also drops the connections already open. */
  set(fault: S3Fault): void {
    this.fault = fault;
    if (fault === 'gone') for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
