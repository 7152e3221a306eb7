import { createHash } from 'node:crypto';

export interface BufferSummary {
  events: number;
  rawBytes: number;
  sha256: string;
  firstReceivedAt: string;
  lastReceivedAt: string;
}

function receivedAtOf(line: string): string {
  try {
    const value = (JSON.parse(line) as { receivedAt?: unknown }).receivedAt;
    return typeof value === 'string' ? value : '';
  } catch {
    return '';
  }
}

const NEWLINE = 0x0a;

/**
 * What the object's metadata records, built chunk by chunk in one streaming pass: the event count
 * (lines), the SHA-256 of the raw content, and the first and last `receivedAt`.
 */
export class SummaryBuilder {
  private readonly hash = createHash('sha256');
  private events = 0;
  private rawBytes = 0;
  private firstLine: string | undefined;
  private head: Buffer[] = [];
  private tail = Buffer.alloc(0);

  add(chunk: Buffer): void {
    this.hash.update(chunk);
    this.rawBytes += chunk.length;
    let index = chunk.indexOf(NEWLINE);
    if (this.firstLine === undefined) {
      if (index === -1) this.head.push(Buffer.from(chunk));
      else {
        this.head.push(chunk.subarray(0, index));
        this.firstLine = Buffer.concat(this.head).toString('utf8');
        this.head = [];
      }
    }
    while (index !== -1) {
      this.events += 1;
      index = chunk.indexOf(NEWLINE, index + 1);
    }
    // The last line may span chunks: keep the bytes after the chunk's second-to-last newline;
    // with no such newline, the chunk continues the kept line, or starts a new one if that ended.
    const cut = chunk.length < 2 ? -1 : chunk.lastIndexOf(NEWLINE, chunk.length - 2);
    if (cut !== -1) this.tail = Buffer.from(chunk.subarray(cut + 1));
    else if (this.tail.at(-1) === NEWLINE) this.tail = Buffer.from(chunk);
    else this.tail = Buffer.concat([this.tail, chunk]);
  }

  result(): BufferSummary {
    const lastLine = this.tail.toString('utf8').replace(/\n$/, '');
    return {
      events: this.events,
      rawBytes: this.rawBytes,
      sha256: this.hash.digest('hex'),
      firstReceivedAt: receivedAtOf(this.firstLine ?? ''),
      lastReceivedAt: receivedAtOf(lastLine),
    };
  }
}
