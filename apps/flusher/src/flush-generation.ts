import type { S3Client } from '@aws-sdk/client-s3';
import { type Config, releaseGeneration, sealGeneration, streamKeys } from '@spool/shared';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FlusherMetrics } from './metrics.js';
import { objectKey } from './object-key.js';
import { summarizeAndCompress } from './sealed-buffer.js';
import { abortStaleUploads, objectMetadata, QUEUE_SIZE, uploadSealed } from './upload.js';

export interface FlushDeps {
  config: Pick<Config, 's3' | 'namespace'>;
  redis: Redis | Cluster;
  s3: S3Client;
  logger: Logger;
  metrics: FlusherMetrics;
}

export type FlushOutcome =
  | { status: 'nothing' }
  | { status: 'uploaded'; key: string; events: number; rawBytes: number; compressedBytes: number };

/**
 * One flush job: seal the generation, stream it through gzip to its deterministic S3 key, and
 * only after S3 confirmed, release it. Every step is safe to repeat: a retry after a crash anywhere
 * reuses the sealed key, overwrites the same object with the same bytes, and counts the events
 * once. Throws to have the job retried (with backoff) when Redis or S3 fails.
 */
export async function flushGeneration(deps: FlushDeps, stream: string, gen: number): Promise<FlushOutcome> {
  const { config, redis, s3, logger, metrics } = deps;
  const bucket = config.s3.bucket as string;
  const keys = streamKeys(stream, config.namespace);
  const sealed = await sealGeneration(redis, keys, gen);
  if (sealed.status === 'nothing') {
    logger.debug({ stream, gen }, 'nothing to flush: generation already uploaded or empty');
    return { status: 'nothing' };
  }
  const endTimer = metrics.flushSeconds.startTimer();
  const sealedKey = keys.sealed(gen);
  logger.info({ stream, gen, rawBytes: sealed.length, status: sealed.status }, 'flushing generation');
  // The first pass may hold as much gzip as the upload holds in parts in flight (both about
  // 4 parts); uploading the held gzip holds both at once, so a flush peaks near twice that.
  const { summary, gzip } = await summarizeAndCompress(
    redis,
    sealedKey,
    sealed.length,
    config.s3.partBytes * QUEUE_SIZE,
  );
  if (summary.events === 0) {
    // Not reachable through the ingest (every append is whole lines); never an empty object.
    await releaseGeneration(redis, keys, gen, 0);
    return { status: 'nothing' };
  }
  const target = { s3, bucket, key: objectKey(config.s3.prefix, stream, sealed.since, gen) };
  if (sealed.status === 'resealed') {
    const { aborted, skipped } = await abortStaleUploads(target);
    if (aborted > 0)
      logger.info(
        { stream, gen, key: target.key, aborted },
        'aborted multipart uploads left by an earlier attempt',
      );
    if (skipped === 'not permitted')
      logger.warn(
        { stream, gen, key: target.key },
        "may not list multipart uploads (s3:ListBucketMultipartUploads): an earlier attempt's upload is left to the bucket lifecycle rule",
      );
  }
  logger.info(
    {
      stream,
      gen,
      key: target.key,
      rawBytes: sealed.length,
      status: sealed.status,
      // 1: compressed during the summary pass and uploaded from memory; 2: read again to upload.
      readPasses: gzip ? 1 : 2,
    },
    'uploading generation',
  );
  const { compressedBytes } = await uploadSealed(
    redis,
    sealedKey,
    sealed.length,
    target,
    objectMetadata(stream, gen, summary),
    { partBytes: config.s3.partBytes, gzip },
  );
  const releasedNow = await releaseGeneration(redis, keys, gen, summary.events);
  endTimer();

  const label = { stream: metrics.streamLabel(stream) };
  metrics.objects.inc(label);
  metrics.events.inc(label, summary.events);
  metrics.rawBytes.inc(label, summary.rawBytes);
  metrics.compressedBytes.inc(label, compressedBytes);
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
  return {
    status: 'uploaded',
    key: target.key,
    events: summary.events,
    rawBytes: summary.rawBytes,
    compressedBytes,
  };
}
