import { S3Client } from '@aws-sdk/client-s3';
import type { OutputFormat } from '@spool/shared';
import { LocalStack, type ProcessOutput } from '@spool/testkit/local-stack';

/**
 * The local stack as the chaos and soak runs use it: redis-server with AOF (`fsync`), or a
 * cluster of 3 masters and 3 replicas; the S3 stand-in, 2 ingests and 2 flushers, with every
 * fault point (the S3 fault proxy, and for one server TCP proxies between Redis and each side),
 * plus an S3 client past the fault proxy to count what landed.
 */
export interface ChaosStack {
  stack: LocalStack;
  ingestUrls: string[];
  /** Straight to the S3 stand-in, past the fault proxy: for counting what landed. */
  s3Client: S3Client;
  bucket: string;
  stop(): Promise<void>;
}

/** Each shard's share of MAX_BUFFER_BYTES (512 MiB at most) must hold a 32 MiB generation. */
export const MAX_CHAOS_SHARDS = 8;

export interface ChaosStackOptions {
  fsync: 'always' | 'everysec';
  /** A Redis Cluster of 3 masters and 3 replicas instead of one server. */
  cluster?: boolean;
  /** REDIS_MIN_REPLICAS_ACK of the ingests and flushers. */
  minReplicasAck?: number;
  /** The flushers' OUTPUT_FORMAT. */
  format?: OutputFormat;
  /** STREAM_SHARDS of the ingests and flushers: every stream split over this many shards. */
  shards?: number;
  /** Where the services' log lines go (LOG_LEVEL=warn); by default nowhere. */
  output?: ProcessOutput;
}

export async function startChaosStack({
  fsync,
  cluster = false,
  minReplicasAck = 0,
  format = 'ndjson.gz',
  shards = 1,
  output,
}: ChaosStackOptions): Promise<ChaosStack> {
  const stack = await LocalStack.start({
    redis: { fsync, ...(cluster ? { cluster: { masters: 3, replicasPerMaster: 1 } } : {}) },
    s3: { bucket: 'chaos' },
    faults: true,
    ...(output ? { output } : {}),
    ...(process.env.SPOOL_CHAOS_DATA_DIR ? { dataDir: process.env.SPOOL_CHAOS_DATA_DIR } : {}),
  });
  try {
    const common = {
      // Generations of up to 32 MiB, which with the load's random padding (about 2.6-2.8:1) are
      // multipart uploads of 5 MiB parts: a flusher killed mid-upload leaves one open. The
      // interval is long enough for a generation to pass 14 MiB (one part compressed) at a
      // quarter of this machine's load of about 2.5 MiB/s a stream; at 5 s every object was one
      // PutObject. A stream's threshold and maximum are shared among its shards, and its load
      // too: the threshold and interval grow with the shards, so that each shard's generations
      // are as large (MAX_BUFFER_BYTES stops at 512 MiB: the chaos run takes up to 8 shards).
      FLUSH_THRESHOLD_BYTES: `${32 * shards}MiB`,
      MAX_BUFFER_BYTES: shards === 1 ? '256MiB' : '512MiB',
      FLUSH_INTERVAL: `${30 * shards}s`,
      STREAM_SHARDS: String(shards),
      REDIS_MIN_REPLICAS_ACK: String(minReplicasAck),
    };
    for (let i = 0; i < 2; i += 1) await stack.addIngest(common);
    for (let i = 0; i < 2; i += 1) {
      await stack.addFlusher({
        ...common,
        FLUSH_RETRY_BASE: '200ms',
        FLUSH_RETRY_MAX: '2s',
        FLUSH_LOCK_DURATION: '3s',
        S3_PART_SIZE: '5MiB',
        OUTPUT_FORMAT: format,
      });
    }
  } catch (error) {
    await stack.stop();
    throw error;
  }
  const s3 = stack.s3 as NonNullable<LocalStack['s3']>;
  const s3Client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  return {
    stack,
    ingestUrls: stack.ingests.map((ingest) => ingest.url),
    s3Client,
    bucket: s3.bucket,
    async stop() {
      s3Client.destroy();
      await stack.stop();
    },
  };
}
