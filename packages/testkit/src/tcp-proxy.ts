import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a service, for fault tests: `cut()` closes every
 * connection and refuses new ones (the service is down), `blackhole()` keeps connections open but
 * delivers nothing until `restore()` (the network hangs; as with TCP, what was sent is held, not
 * lost), `restore()` heals them. `loseReplyTo(marker)` lets the next request that contains
 * `marker` through, then drops the service's answer to it and closes that connection: the
 * service did the work, the client never hears of it. `loseReplies(marker)` does that to every
 * request that contains `marker` (every request, without one) until `restore()`.
 * `wedge()` makes every connection open now deliver nothing, ever, and stay open, while new ones
 * work: a client whose connection half-died (no reset, no answer) and that never notices.
 * `holdRequestWith(markers)` holds the next request that contains every marker, and all that
 * connection sends after it, until `restore()`: a command of the test's choosing, in flight.
 */
export class TcpProxy {
  private mode: 'open' | 'cut' | 'blackhole' = 'open';
  private replyMarker: Buffer | undefined;
  private keepLosing = false;
  private readonly awaitingLoss = new Set<Socket>();
  /** Answers dropped by `loseReplyTo()` so far. */
  lostReplies = 0;
  private readonly sockets = new Set<Socket>();
  private readonly held: Array<() => void> = [];
  private readonly wedged = new Set<Socket>();
  private holdMarkers: { markers: Buffer[]; seen: () => void } | undefined;
  private readonly holding = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private target: { host: string; port: number },
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy?.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
    proxy = new TcpProxy(server, address.port, { host: targetHost, port: targetPort });
    return proxy;
  }

  /**
   * Sends new connections to another server, leaving those open where they are: an address that
   * follows a failover (a DNS name, a Service, a cloud's primary endpoint).
   */
  retarget(host: string, port: number): void {
    this.target = { host, port };
  }

  /** Connections the proxy carries now (each a client's socket and its upstream). */
  get connections(): number {
    return this.sockets.size / 2;
  }

  /** `redis://127.0.0.1:<port>` style address of the proxy, for a URL of the same scheme. */
  url(scheme: string): string {
    return `${scheme}://127.0.0.1:${this.port}`;
  }

  // destroy(), not resetAndDestroy(): on Node 24 the latter left a socket spinning a core.
  cut(): void {
    this.mode = 'cut';
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  wedge(): void {
    for (const socket of this.sockets) this.wedged.add(socket);
  }

  blackhole(): void {
    this.mode = 'blackhole';
  }

  loseReplies(marker = ''): void {
    this.replyMarker = Buffer.from(marker);
    this.keepLosing = true;
  }

  loseReplyTo(marker: string): void {
    this.replyMarker = Buffer.from(marker);
    this.keepLosing = false;
  }

  /** Resolves once a request holding every one of `markers` has come, and is held. */
  holdRequestWith(markers: string[]): Promise<void> {
    return new Promise((seen) => {
      this.holdMarkers = { markers: markers.map((marker) => Buffer.from(marker)), seen };
    });
  }

  restore(): void {
    this.mode = 'open';
    this.replyMarker = undefined;
    this.holdMarkers = undefined;
    this.holding.clear();
    for (const release of this.held.splice(0)) release();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.mode === 'cut') {
      client.destroy();
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(from);
      from.on('data', (data: Buffer) => {
        if (from === client && this.replyMarker && data.includes(this.replyMarker)) {
          if (!this.keepLosing) this.replyMarker = undefined;
          this.awaitingLoss.add(upstream);
        }
        if (this.wedged.has(from)) return;
        const hold = this.holdMarkers;
        if (from === client && hold?.markers.every((marker) => data.includes(marker))) {
          this.holdMarkers = undefined;
          this.holding.add(client);
          hold.seen();
        }
        if (this.holding.has(from)) {
          this.held.push(() => to.write(data));
          return;
        }
        if (from === upstream && this.awaitingLoss.delete(upstream)) {
          this.lostReplies += 1;
          from.destroy();
          to.destroy();
        } else if (this.mode === 'open') to.write(data);
        else this.held.push(() => to.write(data));
      });
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.sockets.delete(from);
        this.wedged.delete(from);
        to.destroy();
      });
    }
  }
}
