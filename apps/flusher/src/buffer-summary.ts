import { createHash } from 'node:crypto';

export interface BufferSummary {
  events: number;
  rawBytes: number;
  sha256: string;
  firstReceivedAt: string;
  lastReceivedAt: string;
}

/**
 * The first and last lines are held up to this many bytes, for their `receivedAt`: 32 times
 * MAX_EVENT_BYTES's default. A longer line is not held (held whole, a 160 MiB line grew a flusher
 * by 965 MiB, copied again with every chunk): its `receivedAt` is read from its start, where the
 * ingest writes it (`{"receivedAt":"…",`), since MAX_EVENT_BYTES may be raised to MAX_BODY_BYTES
 * (a review's 2 MiB events left the metadata empty).
 */
export const MAX_KEPT_LINE_BYTES = 1024 * 1024;

/** How much of a line's start is kept for the `receivedAt` the ingest writes first. */
const LINE_START_BYTES = 128;

/** The `receivedAt` a line starts with, as the ingest writes it, else ''. */
function leadingReceivedAt(start: Buffer): string {
  const match = /^\{"receivedAt":"([\x20\x21\x23-\x5b\x5d-\x7e]{0,64})"/.exec(start.toString('latin1'));
  return match?.[1] ?? '';
}

/**
 * The line's `receivedAt` when it is a string of printable ASCII (the server's ISO time), else
 * '': it goes into an S3 metadata header, which refuses anything else on every attempt.
 */
function receivedAtOf(line: string): string {
  try {
    const value = (JSON.parse(line) as { receivedAt?: unknown }).receivedAt;
    return typeof value === 'string' && /^[\x20-\x7e]{0,64}$/.test(value) ? value : '';
  } catch {
    return '';
  }
}

const NEWLINE = 0x0a;

/** The bytes of a line's text: without its "\n". */
const textBytes = (bytes: Buffer) => bytes.length - (bytes.at(-1) === NEWLINE ? 1 : 0);

/**
 * What the object's metadata records, built chunk by chunk in one streaming pass: the event count
 * (lines: readSealed ends every buffer in "\n"), the SHA-256 of the raw content, and the
 * first and last `receivedAt` (for a line past `maxKeptLineBytes`, read from its first bytes).
 */
export class SummaryBuilder {
  private readonly hash = createHash('sha256');
  private events = 0;
  private rawBytes = 0;
  private firstLine: string | undefined;
  private head: Buffer[] = [];
  private headBytes = 0;
  /** The first LINE_START_BYTES of the first line. */
  private headStart: Buffer = Buffer.alloc(0);
  /** The first LINE_START_BYTES of the last line so far. */
  private tailStart: Buffer = Buffer.alloc(0);
  /** The last line so far (its start, once past the bound: only its last byte then). */
  private tail = Buffer.alloc(0);
  private tailTooLong = false;

  constructor(private readonly maxKeptLineBytes = MAX_KEPT_LINE_BYTES) {}

  add(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.hash.update(chunk);
    this.rawBytes += chunk.length;
    let index = chunk.indexOf(NEWLINE);
    if (this.firstLine === undefined) {
      const part = index === -1 ? chunk : chunk.subarray(0, index);
      this.headBytes += part.length;
      if (this.headBytes <= this.maxKeptLineBytes) this.head.push(Buffer.from(part));
      this.headStart = withStartOf(this.headStart, part);
      if (index !== -1) this.firstLine = this.headText();
    }
    while (index !== -1) {
      this.events += 1;
      index = chunk.indexOf(NEWLINE, index + 1);
    }
    // The last line may span chunks: keep the bytes after the chunk's second-to-last newline;
    // with no such newline, the chunk continues the kept line, or starts a new one if that ended.
    const cut = chunk.length < 2 ? -1 : chunk.lastIndexOf(NEWLINE, chunk.length - 2);
    if (cut !== -1) this.keepTail(chunk.subarray(cut + 1), false);
    else if (this.tail.length === 0 || this.tail.at(-1) === NEWLINE) this.keepTail(chunk, false);
    else if (this.tailTooLong || this.tail.length + textBytes(chunk) > this.maxKeptLineBytes) {
      this.tailStart = withStartOf(this.tailStart, chunk);
      this.keepTail(chunk, true);
    } else {
      this.tailStart = withStartOf(this.tailStart, chunk);
      this.tail = Buffer.concat([this.tail, chunk]);
    }
  }

  result(): BufferSummary {
    const lastLine = this.tailTooLong ? '' : this.tail.toString('utf8').replace(/\n$/, '');
    return {
      events: this.events,
      rawBytes: this.rawBytes,
      sha256: this.hash.digest('hex'),
      firstReceivedAt: receivedAtOf(this.firstLine ?? this.headText()) || leadingReceivedAt(this.headStart),
      lastReceivedAt: receivedAtOf(lastLine) || leadingReceivedAt(this.tailStart),
    };
  }

  /** The first line as held: empty once it passed the bound. */
  private headText(): string {
    const text = this.headBytes <= this.maxKeptLineBytes ? Buffer.concat(this.head).toString('utf8') : '';
    this.head = [];
    return text;
  }

  /**
   * `bytes` as the last line, or (past the bound, or `tooLong` already) only its last byte;
   * `tooLong` false: a new line starts with `bytes`.
   */
  private keepTail(bytes: Buffer, tooLong: boolean): void {
    if (!tooLong) this.tailStart = withStartOf(Buffer.alloc(0), bytes);
    this.tailTooLong = tooLong || textBytes(bytes) > this.maxKeptLineBytes;
    this.tail = Buffer.from(this.tailTooLong ? bytes.subarray(-1) : bytes);
  }
}

/** `start` with as much of `more` after it as LINE_START_BYTES holds (a copy: chunks are reused). */
function withStartOf(start: Buffer, more: Buffer): Buffer {
  if (start.length >= LINE_START_BYTES) return start;
  return Buffer.concat([start, more.subarray(0, LINE_START_BYTES - start.length)]);
}
