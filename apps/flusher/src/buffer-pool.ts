import { freeNow } from './free-now.js';

/**
 * A fixed number of equal buffers; `take` waits while all are out. Once closed, each buffer's
 * memory is given back as soon as it is free (freeNow).
 */
export class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly waiting: Array<(buffer: Buffer) => void> = [];
  private created = 0;
  private closed = false;

  constructor(
    private readonly count: number,
    private readonly bytes: number,
  ) {}

  take(): Promise<Buffer> {
    const buffer = this.free.pop();
    if (buffer) return Promise.resolve(buffer);
    if (this.created < this.count) {
      this.created += 1;
      return Promise.resolve(Buffer.allocUnsafe(this.bytes));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  give(buffer: Buffer): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter(buffer);
    else if (this.closed) freeNow(buffer);
    else this.free.push(buffer);
  }

  /** No more takes: frees the buffers in hand, and each one given back after. */
  close(): void {
    this.closed = true;
    for (const buffer of this.free.splice(0)) freeNow(buffer);
  }
}
