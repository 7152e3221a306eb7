import { createServer, request, type Server } from 'node:http';
import type { Socket } from 'node:net';

export type S3Fault = 'none' | 'error500' | 'slow' | 'gone';

/** An UploadPart request the proxy holds for a watcher (see `holdNextUploadPart`). */
export interface HeldUploadPart {
  /** The sender's `app/<id>` from its user agent (the local stack names each flusher so). */
  appId: string | undefined;
  /** Sends the part on, unless its sender is gone by then. */
  release(): void;
}

/** An UploadPart: a PUT naming the multipart upload and the part's number. */
const isUploadPart = (method: string | undefined, url: string | undefined) => {
  const query = new URL(url ?? '/', 'http://proxy').searchParams;
  return method === 'PUT' && query.has('uploadId') && query.has('partNumber');
};

/** The `app/<id>` of an AWS SDK user agent (AWS_SDK_UA_APP_ID). */
const appIdOf = (headers: Record<string, string | string[] | undefined>) => {
  const agents = [headers['x-amz-user-agent'], headers['user-agent']].flat().join(' ');
  return /(?:^|\s)app\/(\S+)/.exec(agents)?.[1];
};

/**
 * An HTTP proxy in front of the S3-compatible server that injects faults: `error500` answers every
 * request with S3's InternalError, `slow` holds each request `slowMs` before forwarding it,
 * `gone` drops every connection (the store is unreachable).
 */
export class S3FaultProxy {
  fault: S3Fault = 'none';
  slowMs = 2_000;
  private readonly sockets = new Set<Socket>();
  private partWatchers: Array<(part: HeldUploadPart) => void> = [];

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
      const watcher = isUploadPart(incoming.method, incoming.url) ? proxy?.partWatchers.shift() : undefined;
      if (watcher) {
        watcher({
          appId: appIdOf(incoming.headers),
          release: () => {
            if (!incoming.destroyed) forward();
          },
        });
      } else if (fault === 'slow') setTimeout(forward, proxy?.slowMs ?? 0);
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

  /**
   * Resolves with the next UploadPart request, held until `release` so that its sender is
   * certainly in the middle of a multipart upload; or with undefined after `timeoutMs`.
   */
  holdNextUploadPart(timeoutMs: number): Promise<HeldUploadPart | undefined> {
    return new Promise((resolve) => {
      const watcher = (part: HeldUploadPart) => {
        clearTimeout(timer);
        resolve(part);
      };
      const timer = setTimeout(() => {
        this.partWatchers = this.partWatchers.filter((waiting) => waiting !== watcher);
        resolve(undefined);
      }, timeoutMs);
      this.partWatchers.push(watcher);
    });
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
