import { type Config, type StreamKeys } from '@spool/shared';
import type { Redis } from 'ioredis';
import { type FlusherClients } from '../src/clients.js';
import { type Flusher } from '../src/flusher.js';
export interface TestFlusher extends Flusher {
  clients: FlusherClients;
  config: Readonly<Config>;
}
/** A flusher in this process against the test run's Redis and S3 (credentials from the environment). */
export declare function startTestFlusher(env?: Record<string, string>): Promise<TestFlusher>;
/**
 * Fills a stream's buffer straight through the append script (the ingest's own protocol), with
 * lines shaped like the ingest's: `{"messageId","receivedAt","data"}`. `random` data barely
 * compresses, for uploads that take a while. Returns the messageIds, in order.
 */
export declare function fillBuffer(
  redis: Redis,
  keys: StreamKeys,
  totalBytes: number,
  options?: {
    random?: boolean;
    lineBytes?: number;
  },
): Promise<string[]>;
//# sourceMappingURL=support.d.ts.map
