import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export type S3Fault =
  | 'none'
  | 'error500'
  | 'error500LongAnswer'
  | 'slow'
  | 'gone'
  | 'cutDownloads'
  | 'denyUploadParts'
  | 'completeErrorIn200'
  | 'putErrorIn200'
  | 'failUploadListings'
  | 'loseCreateUploadAnswer';

/** A request the proxy holds for a watcher (see `holdNext`). */
export interface HeldRequest {
  /** The sender's `app/<id>` from its user agent (the local stack names each flusher so). */
  appId: string | undefined;
  /** Sends the request on, unless its sender is gone by then. */
  release(): void;
}

/** Which requests a watcher holds: by method and URL (path and query, as sent). */
export type RequestMatch = (method: string, url: URL) => boolean;

/** An UploadPart: a PUT naming the multipart upload and the part's number. */
const isUploadPart: RequestMatch = (method, url) =>
  method === 'PUT' && url.searchParams.has('uploadId') && url.searchParams.has('partNumber');

/** A request that creates an object: a PutObject (not a part, not a copy) or a CreateMultipartUpload. */
const createsObject = (method: string, url: URL, headers: Record<string, unknown>) =>
  (method === 'PUT' && !url.searchParams.has('partNumber') && headers['x-amz-copy-source'] === undefined) ||
  (method === 'POST' && url.searchParams.has('uploads'));

/** A CreateMultipartUpload: a POST of `?uploads`. */
const isCreateUpload: RequestMatch = (method, url) => method === 'POST' && url.searchParams.has('uploads');

/** A ListMultipartUploads: a GET of `?uploads`. */
const isUploadListing: RequestMatch = (method, url) => method === 'GET' && url.searchParams.has('uploads');

/** A CompleteMultipartUpload: a POST naming its multipart upload. */
const isCompleteUpload: RequestMatch = (method, url) => method === 'POST' && url.searchParams.has('uploadId');

/** S3's refusal of a request, as its XML error (`after` it: what some stores add, a newline). */
function refuse(
  outgoing: ServerResponse,
  status: number,
  code: string,
  after = '',
  message = 'injected',
): void {
  outgoing.writeHead(status, { 'content-type': 'application/xml' });
  outgoing.end(
    `<?xml version="1.0"?><Error><Code>${code}</Code><Message>${message}</Message></Error>${after}`,
  );
}

/** Sends the first `bytes` of `answer`, then cuts the client's connection. */
function cutAfter(answer: IncomingMessage, outgoing: ServerResponse, bytes: number): void {
  let left = bytes;
  answer.on('data', (chunk: Buffer) => {
    if (left <= 0) return;
    const part = chunk.subarray(0, left);
    left -= part.length;
    outgoing.write(part, () => {
      if (left <= 0) outgoing.socket?.destroy();
    });
    if (left <= 0) answer.destroy();
  });
}

/** The `app/<id>` of an AWS SDK user agent (AWS_SDK_UA_APP_ID). */
const appIdOf = (headers: Record<string, string | string[] | undefined>) => {
  const agents = [headers['x-amz-user-agent'], headers['user-agent']].flat().join(' ');
  return /(?:^|\s)app\/(\S+)/.exec(agents)?.[1];
};

/**
 * An HTTP proxy in front of the S3-compatible server that injects faults: `error500` answers every
 * request with S3's InternalError (`error500LongAnswer`: a code and a message of 100,000 characters each), `slow` holds each request `slowMs` before forwarding it,
 * `gone` drops every connection (the store is unreachable), `cutDownloads` sends half of each
 * object a GET asks for, then cuts the connection (a download that breaks off), `denyUploadParts`
 * answers every UploadPart with S3's AccessDenied (a bucket policy or a KMS key refusing parts),
 * `completeErrorIn200` answers every CompleteMultipartUpload 200 with an error body, as S3 may
 * (a newline after it: the AWS SDK then takes it for success), never passing it on, and
 * `putErrorIn200` so each PutObject `putErrorMatches`; `failUploadListings` answers every
 * ListMultipartUploads 503 SlowDown; `loseCreateUploadAnswer` passes the next
 * CreateMultipartUpload on, then cuts the connection instead of answering (S3 began the upload;
 * its sender never learns of it), and is then `failUploadListings` if `thenFailListings` is set,
 * else `none`.
 */
export class S3FaultProxy {
  fault: S3Fault = 'none';
  /**
   * Requests (and connections, for `gone`) the fault set last has met: a fault that met none
   * tested nothing (set() starts it again from 0).
   */
  faulted = 0;
  slowMs = 2_000;
  /** The `<Message>` of `error500`'s answers (S3's text, which Spool shows on its status page). */
  errorMessage = 'injected';
  /** The GETs `cutDownloads` cuts: every one, unless a test narrows it (to objects, not manifests). */
  cutMatches: RequestMatch = (method) => method === 'GET';
  /** The PutObjects `putErrorIn200` answers: every one, unless a test narrows it (to manifests). */
  putErrorMatches: RequestMatch = () => true;
  /** `loseCreateUploadAnswer`, once spent, becomes `failUploadListings` (the clean-up's listing fails). */
  thenFailListings = false;
  /**
   * Set, the proxy acts as AWS's usual bucket policy for SSE-KMS does: a request that creates an
   * object without these encryption headers is refused (403 AccessDenied). The store itself
   * ignores the headers.
   */
  requireEncryption: { sse: string; kmsKeyId?: string } | undefined;
  /**
   * The object-creating requests `requireEncryption` let through and those it refused, and the
   * parts it saw (which carry no encryption headers of their own: their upload's apply).
   */
  readonly encryptionChecks = { passed: 0, refused: 0, parts: 0 };
  private readonly sockets = new Set<Socket>();
  private watchers: Array<{
    matches: RequestMatch;
    hold: (request: HeldRequest) => void;
    giveUp: () => void;
  }> = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Starts a proxy in front of the S3-compatible server at `target` (its URL). */
  static async start(target: string): Promise<S3FaultProxy> {
    const targetPort = Number(new URL(target).port);
    let proxy: S3FaultProxy | undefined;
    const server = createServer((incoming, outgoing) => {
      const fault = proxy?.fault ?? 'none';
      if (proxy && fault !== 'none') proxy.faulted += 1;
      if (fault === 'gone') {
        incoming.socket.destroy();
        return;
      }
      if (fault === 'error500') {
        incoming.resume();
        refuse(outgoing, 500, 'InternalError', '', proxy?.errorMessage);
        return;
      }
      if (fault === 'error500LongAnswer') {
        incoming.resume();
        refuse(outgoing, 500, 'C'.repeat(100_000), '', 'x'.repeat(100_000));
        return;
      }
      if (
        fault === 'completeErrorIn200' &&
        isCompleteUpload(incoming.method ?? '', new URL(incoming.url ?? '/', 'http://proxy'))
      ) {
        incoming.resume();
        refuse(outgoing, 200, 'InternalError', '\n');
        return;
      }
      if (fault === 'putErrorIn200') {
        const url = new URL(incoming.url ?? '/', 'http://proxy');
        const method = incoming.method ?? '';
        if (
          createsObject(method, url, incoming.headers) &&
          method === 'PUT' &&
          proxy?.putErrorMatches(method, url)
        ) {
          incoming.resume();
          refuse(outgoing, 200, 'InternalError', '\n');
          return;
        }
      }
      if (
        fault === 'failUploadListings' &&
        isUploadListing(incoming.method ?? '', new URL(incoming.url ?? '/', 'http://proxy'))
      ) {
        incoming.resume();
        refuse(outgoing, 503, 'SlowDown');
        return;
      }
      if (
        fault === 'denyUploadParts' &&
        isUploadPart(incoming.method ?? '', new URL(incoming.url ?? '/', 'http://proxy'))
      ) {
        incoming.resume();
        refuse(outgoing, 403, 'AccessDenied');
        return;
      }
      const required = proxy?.requireEncryption;
      if (
        proxy &&
        required &&
        isUploadPart(incoming.method ?? '', new URL(incoming.url ?? '/', 'http://proxy'))
      ) {
        proxy.encryptionChecks.parts += 1;
      }
      if (
        proxy &&
        required &&
        createsObject(incoming.method ?? '', new URL(incoming.url ?? '/', 'http://proxy'), incoming.headers)
      ) {
        const encrypted =
          incoming.headers['x-amz-server-side-encryption'] === required.sse &&
          incoming.headers['x-amz-server-side-encryption-aws-kms-key-id'] === required.kmsKeyId;
        if (!encrypted) {
          proxy.encryptionChecks.refused += 1;
          incoming.resume();
          refuse(outgoing, 403, 'AccessDenied');
          return;
        }
        proxy.encryptionChecks.passed += 1;
      }
      const forward = () => {
        const url = new URL(incoming.url ?? '/', 'http://proxy');
        const upstream = request(
          {
            host: '127.0.0.1',
            port: targetPort,
            method: incoming.method,
            path: incoming.url,
            headers: incoming.headers,
          },
          (answer) => {
            if (proxy?.fault === 'loseCreateUploadAnswer' && isCreateUpload(incoming.method ?? '', url)) {
              proxy.fault = proxy.thenFailListings ? 'failUploadListings' : 'none';
              answer.resume();
              answer.on('end', () => outgoing.socket?.destroy());
              return;
            }
            outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
            const length = Number(answer.headers['content-length'] ?? 0);
            const cut = proxy?.fault === 'cutDownloads' && proxy.cutMatches(incoming.method ?? '', url);
            if (cut && length > 1) {
              cutAfter(answer, outgoing, Math.floor(length / 2));
              return;
            }
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
      const watcher = proxy?.takeWatcher(incoming.method ?? '', incoming.url ?? '/');
      if (watcher) {
        watcher.hold({
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
        proxy.faulted += 1;
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

  /** Where S3 clients reach the store through this proxy (their S3_ENDPOINT). */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Resolves with the next request that `matches`, held until `release` (its sender waits for
   * the answer meanwhile); or with undefined after `timeoutMs`.
   */
  holdNext(matches: RequestMatch, timeoutMs: number): Promise<HeldRequest | undefined> {
    return new Promise((resolve) => {
      const giveUp = () => {
        clearTimeout(timer);
        this.watchers = this.watchers.filter((waiting) => waiting !== watcher);
        resolve(undefined);
      };
      const watcher = {
        matches,
        hold: (request: HeldRequest) => {
          clearTimeout(timer);
          resolve(request);
        },
        giveUp,
      };
      const timer = setTimeout(giveUp, timeoutMs);
      this.watchers.push(watcher);
    });
  }

  /** The next UploadPart, held: its sender is certainly in the middle of a multipart upload. */
  holdNextUploadPart(timeoutMs: number): Promise<HeldRequest | undefined> {
    return this.holdNext(isUploadPart, timeoutMs);
  }

  /** The first watcher waiting for this request, no longer waiting. */
  private takeWatcher(method: string, path: string) {
    const url = new URL(path, 'http://proxy');
    const index = this.watchers.findIndex((watcher) => watcher.matches(method, url));
    return index === -1 ? undefined : this.watchers.splice(index, 1)[0];
  }

  /** Sets a fault (and its options, to set after: `putErrorMatches`, `thenFailListings`, as they start); `gone` also drops the connections already open. */
  set(fault: S3Fault): void {
    this.fault = fault;
    this.faulted = 0;
    this.putErrorMatches = () => true;
    this.thenFailListings = false;
    if (fault === 'gone') for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    // A watcher nothing matched gives up now: its timer would keep Jest's worker alive after the test.
    for (const watcher of [...this.watchers]) watcher.giveUp();
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
