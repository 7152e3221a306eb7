import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { refusedByAcl } from '@spool/shared';
import type { RedisOptions } from 'ioredis';

/** Nothing from Redis this long while a reply is awaited: the connection is dropped (the flush retries). */
const IDLE_TIMEOUT_MS = 30_000;

/** Bytes the socket reads at a time, into one buffer reused for every read. */
const SOCKET_READ_BYTES = 64 * 1024;

/** Where a reader connects, and as whom: an ioredis client's options (those it parsed from REDIS_URL). */
export type RangeReaderTarget = Pick<
  RedisOptions,
  'host' | 'port' | 'path' | 'family' | 'username' | 'password' | 'db' | 'connectTimeout'
>;

/**
 * A connection closed while a reply was awaited. Redis does that to a client whose replies pass
 * its `client-output-buffer-limit` for normal clients, and a read takes up to 4 MiB
 * (READ_CHUNK_BYTES): every flush failed so, saying only that the connection closed (a review's run).
 */
const CLOSED_BEFORE_ANSWERING =
  'Redis closed the connection before answering (Redis closes a client whose replies pass its client-output-buffer-limit for normal clients, and the flusher reads 4 MiB at a time: see docs/operations.md)';

/** An error reply from Redis (`-MOVED 3999 127.0.0.1:7002`, say), its text as Redis sent it. */
export class RedisErrorReply extends Error {
  constructor(readonly reply: string) {
    super(`Redis answered: ${reply}`);
  }
}

interface Pending {
  /** Where a bulk reply's bytes go (GETRANGE); status replies need none. */
  target?: Buffer;
  resolve(reply: Buffer | string): void;
  reject(error: Error): void;
}

/**
 * A Redis connection of its own that reads GETRANGE replies straight into buffers the caller owns
 * and reuses. Through ioredis every 4 MiB read costs 8 MiB of short-lived Buffers (the socket's
 * 64 KiB pieces, then their concatenation), which V8 collects only once some 64 MiB of them have
 * piled up: the flusher's peak memory while flushing was mostly that garbage. Here the socket
 * reads into one fixed buffer (`onread`) and each reply is copied once, into its target.
 *
 * It speaks just enough RESP for AUTH, SELECT and GETRANGE, over TCP or a Unix socket, with the
 * options ioredis parsed from REDIS_URL (a TLS connection is read through ioredis instead).
 */
export class RangeReader {
  private readonly pending: Pending[] = [];
  private socket: Socket | undefined;
  private failure: Error | undefined;
  /** The current reply's first line, while it is incomplete (latin1: RESP headers are ASCII). */
  private header = '';
  /** A bulk reply whose body is arriving. */
  private bulk: { target: Buffer; length: number; written: number } | undefined;
  /** Bytes of the "\r\n" after a bulk body still to skip. */
  private crlfToSkip = 0;

  /**
   * Connects with the options of an ioredis client, then authenticates, selects its db and names
   * itself (`CLIENT LIST` shows it as `name`).
   */
  static async connect(target: RangeReaderTarget, name = 'spool-flusher-reader'): Promise<RangeReader> {
    const reader = new RangeReader();
    try {
      await reader.open(target, name);
    } catch (error) {
      reader.close();
      throw error;
    }
    return reader;
  }

  /**
   * Reads bytes `start`..`end` (inclusive) of `key` into `target`; resolves with the part filled.
   * `asking`: sends ASKING first, as a cluster node's ASK redirection requires.
   */
  getrange(key: string, start: number, end: number, target: Buffer, asking = false): Promise<Buffer> {
    // Its answer (or error) comes back as the GETRANGE's own: only that one is awaited.
    if (asking) this.send(['ASKING']).catch(() => {});
    return this.send(['GETRANGE', key, String(start), String(end)], target) as Promise<Buffer>;
  }

  close(): void {
    this.fail(new Error('range reader closed'));
  }

  private async open(target: RangeReaderTarget, name: string): Promise<void> {
    const { host, port, path, family, username, password, db, connectTimeout } = target;
    const onread = {
      buffer: Buffer.allocUnsafe(SOCKET_READ_BYTES),
      callback: (bytes: number, buffer: Uint8Array) => {
        this.receive(buffer as Buffer, bytes);
        return true;
      },
    };
    const socket = path
      ? netConnect({ path, onread })
      : netConnect({ host: host ?? '127.0.0.1', port: port ?? 6379, family: family ?? 0, onread });
    this.socket = socket;
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () =>
      this.fail(new Error(this.pending.length > 0 ? CLOSED_BEFORE_ANSWERING : 'Redis closed the connection')),
    );
    // Armed only while connecting and while replies are awaited (see send/settle): a reader
    // waiting on its consumer (an upload held up by S3) is idle, not stuck.
    socket.on('timeout', () => socket.destroy(new Error(`no answer from Redis in ${socket.timeout} ms`)));
    socket.setTimeout(connectTimeout ?? IDLE_TIMEOUT_MS);
    await once(socket, 'connect');
    socket.setTimeout(0);
    socket.setNoDelay(true);
    if (password) await this.send(username ? ['AUTH', username, password] : ['AUTH', password]);
    if (db) await this.send(['SELECT', String(db)]);
    // A name helps whoever reads CLIENT LIST, but an ACL user without +client must still read
    // (NOPERM), as must one where CLIENT is renamed away. Any other refusal is Redis's answer to
    // the connection, sent to whatever it is asked first: "max number of clients reached", which
    // the read then knew only as a broken pipe (a review's run).
    await this.send(['CLIENT', 'SETNAME', name]).catch((error: Error) => {
      if (
        !(
          error instanceof RedisErrorReply &&
          (refusedByAcl(error.reply) || /^ERR unknown command\b/.test(error.reply))
        )
      )
        throw error;
    });
  }

  private send(args: string[], target?: Buffer): Promise<Buffer | string> {
    if (this.failure) return Promise.reject(this.failure);
    const socket = this.socket as Socket;
    return new Promise((resolve, reject) => {
      this.pending.push({ target, resolve, reject });
      if (this.pending.length === 1) socket.setTimeout(IDLE_TIMEOUT_MS);
      let command = `*${args.length}\r\n`;
      for (const arg of args) command += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
      socket.write(command);
    });
  }

  private receive(buffer: Buffer, bytes: number): void {
    let at = 0;
    while (at < bytes && !this.failure) {
      if (this.crlfToSkip > 0) {
        // The bulk body's terminator: "\r" then "\n", possibly in separate reads.
        if (buffer[at] !== (this.crlfToSkip === 2 ? 0x0d : 0x0a)) {
          this.fail(new Error('unexpected reply from Redis: a bulk reply without its CRLF'));
          return;
        }
        at += 1;
        this.crlfToSkip -= 1;
        if (this.crlfToSkip === 0) this.finishBulk();
      } else if (this.bulk) {
        const copy = Math.min(this.bulk.length - this.bulk.written, bytes - at);
        buffer.copy(this.bulk.target, this.bulk.written, at, at + copy);
        this.bulk.written += copy;
        at += copy;
        if (this.bulk.written === this.bulk.length) this.crlfToSkip = 2;
      } else {
        const newline = buffer.indexOf(0x0a, at);
        const end = newline === -1 || newline >= bytes ? bytes : newline;
        this.header += buffer.toString('latin1', at, end);
        at = end === bytes ? bytes : end + 1;
        if (end !== bytes) {
          const line = this.header.endsWith('\r') ? this.header.slice(0, -1) : this.header;
          this.header = '';
          this.replyLine(line);
        }
      }
    }
  }

  private replyLine(line: string): void {
    const kind = line[0];
    const rest = line.slice(1);
    const length = Number(rest);
    const target = this.pending[0]?.target;
    if (kind === '+' || kind === ':') this.settle((p) => p.resolve(rest));
    else if (kind === '-') this.settle((p) => p.reject(new RedisErrorReply(rest)));
    else if (
      kind !== '$' ||
      rest === '' ||
      !Number.isInteger(length) ||
      length < -1 ||
      !target ||
      length > target.length
    ) {
      this.fail(new Error(`unexpected reply from Redis: ${line.slice(0, 80)}`));
    } else if (length === -1) this.settle((p) => p.resolve(target.subarray(0, 0)));
    else {
      this.bulk = { target, length, written: 0 };
      if (length === 0) this.crlfToSkip = 2;
    }
  }

  private finishBulk(): void {
    const { target, written } = this.bulk as NonNullable<RangeReader['bulk']>;
    this.bulk = undefined;
    this.settle((p) => p.resolve(target.subarray(0, written)));
  }

  private settle(answer: (pending: Pending) => void): void {
    const pending = this.pending.shift();
    if (this.pending.length === 0) this.socket?.setTimeout(0);
    if (pending) answer(pending);
    else this.fail(new Error('a reply from Redis that nothing asked for'));
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const pending of this.pending.splice(0)) pending.reject(error);
    this.socket?.destroy();
  }
}
