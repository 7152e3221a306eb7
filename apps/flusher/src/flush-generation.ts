import type { S3Client } from '@aws-sdk/client-s3';
import {
  type Config,
  forStream,
  type OutputFormat,
  parseShardUnit,
  pinDestination,
  releaseGeneration,
  repinDestination,
  replicaAckOf,
  type StreamKeys,
  sealGeneration,
  streamKeys,
} from '@spool/shared';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { bucketState } from './bucket-check.js';
import { type FirstPass, summarizeAndStage, summarizeForCompression } from './first-pass.js';
import { manifestLine, writePendingManifests } from './manifests.js';
import type { FlusherMetrics } from './metrics.js';
import { FORMAT_WRITERS, type FormatWriter } from './output-formats.js';
import { objectKey, objectMetadata } from './s3-object.js';
import { readSealed } from './sealed-reader.js';
import { abortStaleUploads, type StaleUploads } from './stale-uploads.js';
import { uploadBody } from './upload.js';

export interface FlushDeps {
  config: Pick<Config, 's3' | 'namespace' | 'outputFormat' | 'minReplicasAck' | 'redisCommandTimeoutMs'>;
  redis: Redis | Cluster;
  s3: S3Client;
  logger: Logger;
  metrics: FlusherMetrics;
}

/** Where a generation's object goes: a bucket, and the prefix of its key. */
type Destination = { bucket: string; prefix: string };

export type FlushOutcome =
  | { status: 'nothing' }
  | { status: 'uploaded'; key: string; events: number; rawBytes: number; compressedBytes: number };

/**
 * One flush job, top to bottom: seal the generation; read it once to summarize it (Parquet: and
 * stage it); upload its object to its deterministic S3 key (NDJSON: compressed from a second read
 * as the upload goes); and only after S3 confirmed, release it. Every step is safe to
 * repeat: a retry after a crash anywhere reuses the sealed key, overwrites the same object with
 * the same content (its bytes may differ: zstd's depend on the flusher's cores), and counts
 * the events once. Throws to have the job retried (with backoff) when
 * Redis or S3 fails.
 */
export async function flushGeneration(deps: FlushDeps, stream: string, gen: number): Promise<FlushOutcome> {
  const { config, redis, logger, metrics } = deps;
  const keys = streamKeys(stream, config.namespace);
  // `stream` is a buffer unit: a stream, or one shard of a sharded stream (stream-shards.ts).
  const unit = parseShardUnit(stream) ?? { stream, shard: 0 };

  // With REDIS_MIN_REPLICAS_ACK, nothing is uploaded until that many replicas hold the seal.
  const sealed = await sealGeneration(
    redis,
    keys,
    gen,
    forStream(config.outputFormat, unit.stream),
    replicaAckOf(config),
  );
  if (sealed.status === 'nothing') {
    logger.debug({ stream, gen }, 'nothing to flush: generation already uploaded or empty');
    return { status: 'nothing' };
  }
  const endTimer = metrics.flushSeconds.startTimer();
  const read = () => readSealed(redis, keys.sealed(gen), sealed.length);
  // The format recorded at the seal, not today's setting: a retry writes the same object key.
  const writer = FORMAT_WRITERS[sealed.format];
  logger.info(
    { stream, gen, rawBytes: sealed.length, status: sealed.status, format: sealed.format },
    'flushing generation',
  );

  try {
    const firstPass = writer.compressor
      ? await summarizeForCompression(read, writer.compressor)
      : await summarizeAndStage(read, {
          logger: logger.child({ stream, gen }),
          fallback: (kind) =>
            metrics.parquetFallbacks.inc({ stream: metrics.streamLabel(unit.stream), kind }),
        });
    try {
      return await uploadAndRelease(deps, { stream, gen, unit, sealed, writer, firstPass, endTimer });
    } finally {
      await firstPass.discard();
    }
  } catch (error) {
    // Another flusher landed and released it while this one read it (a lock lost in a pause): its
    // sealed key went, the read's length check refused the rest, and nothing of this attempt
    // landed. Not a failure to retry.
    const released = await redis.sismember(keys.pending, String(gen)).then(
      (member) => member === 0,
      () => false, // Redis away: the error that stopped the flush is the one to retry on
    );
    if (released) {
      logger.info({ stream, gen }, 'generation released by another flusher while this one read it');
      return { status: 'nothing' };
    }
    throw error;
  }
}

interface Prepared {
  stream: string;
  gen: number;
  unit: { stream: string; shard: number };
  sealed: { status: 'sealed' | 'resealed'; length: number; since: number; format: OutputFormat };
  writer: FormatWriter;
  firstPass: FirstPass;
  endTimer: () => void;
}

/** The rest of a flush, once the first pass summarized the generation: upload, then release. */
async function uploadAndRelease(deps: FlushDeps, prepared: Prepared): Promise<FlushOutcome> {
  const { config, redis, s3, logger, metrics } = deps;
  const { stream, gen, unit, sealed, writer, firstPass, endTimer } = prepared;
  const { summary } = firstPass;
  const keys = streamKeys(stream, config.namespace);
  if (summary.events === 0) {
    // Not reachable through the ingest (every append is whole lines); never an empty object.
    await releaseGeneration(redis, keys, gen, 0);
    return { status: 'nothing' };
  }

  // The first attempt's bucket and prefix, whatever the settings say now (pin-destination-1.lua).
  const configured = { bucket: config.s3.bucket as string, prefix: config.s3.prefix };
  const pinned = await pinDestination(redis, keys, gen, configured);
  const destination = pinned && (await destinationNow(deps, { stream, gen, keys }, pinned, configured));
  if (!destination) return { status: 'nothing' }; // released meanwhile, by another flusher
  const target = {
    s3,
    bucket: destination.bucket,
    key: objectKey(destination.prefix, unit.stream, sealed.since, gen, unit.shard, writer.extension),
  };
  // A retried flush first aborts the multipart uploads a crashed attempt left open for its key.
  if (sealed.status === 'resealed') {
    sayWhatStaysOpen(
      deps,
      target.key,
      stream,
      gen,
      await abortStaleUploads(target),
      'left open by an earlier attempt',
    );
  }
  logger.info(
    // readPasses 2: summarized, then read again and compressed into the upload (NDJSON);
    // 1: uploaded from the Parquet file staged during the summary's pass.
    {
      stream,
      gen,
      key: target.key,
      rawBytes: sealed.length,
      status: sealed.status,
      readPasses: firstPass.readPasses,
    },
    'uploading generation',
  );
  const { compressedBytes, objectSha256, extraUploads } = await uploadBody(
    target,
    {
      pieces: firstPass.body(),
      contentType: writer.contentType,
      metadata: objectMetadata(unit.stream, gen, summary, unit.shard),
    },
    config.s3.partBytes,
  );
  if (extraUploads)
    sayWhatStaysOpen(
      deps,
      target.key,
      stream,
      gen,
      extraUploads,
      'S3 began for a CreateMultipartUpload sent again',
    );

  const line = manifestLine(
    target.key,
    { gen, shard: unit.shard, format: sealed.format, bytes: compressedBytes, objectSha256 },
    summary,
  );
  const releasedNow = await releaseGeneration(redis, keys, gen, summary.events, {
    key: target.key,
    manifestLine: JSON.stringify(line),
  });
  endTimer();
  // Counted by the flusher that released it only: another that uploaded the same object too (its
  // lock lost in a pause) counted it twice across flushers, in the sums the dashboards take.
  if (releasedNow) {
    const label = { stream: metrics.streamLabel(unit.stream) };
    metrics.objects.inc(label);
    metrics.events.inc(label, summary.events);
    metrics.rawBytes.inc(label, summary.rawBytes);
    metrics.compressedBytes.inc(label, compressedBytes);
  }
  logger.info(
    {
      stream,
      gen,
      key: target.key,
      events: summary.events,
      rawBytes: summary.rawBytes,
      compressedBytes,
      releasedNow,
    },
    'generation uploaded',
  );
  // The object has landed; its manifest line is pending until written (here, or by the sweep).
  await writePendingManifests(
    { redis, s3, bucket: target.bucket, namespace: config.namespace },
    stream,
    unit.stream,
  ).catch((error: unknown) =>
    logger.warn({ err: error, stream, gen }, 'could not write the manifest yet; the sweep will'),
  );
  return {
    status: 'uploaded',
    key: target.key,
    events: summary.events,
    rawBytes: summary.rawBytes,
    compressedBytes,
  };
}

/**
 * Where a generation pinned elsewhere than the settings now say goes. Its pinned bucket, if it
 * does not exist, can hold no object of it, nor take one from a late attempt: the generation goes
 * to the settings' bucket and prefix instead. A mistyped S3_BUCKET, corrected, otherwise held the
 * generations sealed meanwhile in Redis for ever, each retry refused NoSuchBucket (a review's run).
 * Anything else stays where its first attempt went (an object may be there), and the log says so.
 */
async function destinationNow(
  { redis, s3, logger }: FlushDeps,
  { stream, gen, keys }: { stream: string; gen: number; keys: StreamKeys },
  pinned: Destination,
  configured: Destination,
): Promise<Destination | undefined> {
  if (pinned.bucket === configured.bucket && pinned.prefix === configured.prefix) return pinned;
  const context = { stream, gen, pinnedBucket: pinned.bucket, pinnedPrefix: pinned.prefix };
  if (pinned.bucket !== configured.bucket && (await bucketState(s3, pinned.bucket)).state === 'missing') {
    logger.warn(
      { ...context, bucket: configured.bucket, prefix: configured.prefix },
      "the bucket of the generation's first attempt does not exist: it goes to S3_BUCKET and S3_PREFIX",
    );
    return repinDestination(redis, keys, gen, pinned, configured);
  }
  logger.warn(
    context,
    'the generation goes where its first attempt went, not to S3_BUCKET and S3_PREFIX: an object of it may be there (docs/output.md)',
  );
  return pinned;
}

/**
 * Logs what clearing an object's other multipart uploads did: those aborted, and those left open
 * to the bucket's lifecycle rule (the credentials may not list or abort them, or, once the
 * object is complete, the listing or an abort failed); `whose` says which uploads they were.
 */
function sayWhatStaysOpen(
  { logger }: FlushDeps,
  key: string,
  stream: string,
  gen: number,
  { aborted, skipped, failed }: StaleUploads,
  whose: string,
): void {
  if (aborted > 0) logger.info({ stream, gen, key, aborted }, `aborted multipart uploads ${whose}`);
  if (skipped === 'not permitted' || skipped === 'abort not permitted') {
    const permission =
      skipped === 'not permitted'
        ? 'may not list multipart uploads (s3:ListBucketMultipartUploads)'
        : 'may not abort multipart uploads (s3:AbortMultipartUpload)';
    logger.warn(
      { stream, gen, key },
      `${permission}: multipart uploads ${whose} are left to the bucket lifecycle rule`,
    );
  }
  if (failed !== undefined) {
    logger.warn(
      { stream, gen, key, err: failed },
      `could not abort the multipart uploads ${whose}: they are left to the bucket lifecycle rule`,
    );
  }
}
