import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { createLogger, loadConfigOrExit } from '@spool/shared';
import { createS3Client } from './clients.js';

/**
 * `node dist/create-bucket.js`: creates S3_BUCKET when it does not exist, retrying while the store
 * starts up (for docker-compose and other local stacks; production buckets are made by their
 * owners). Exits 0 once the bucket exists, 1 after about a minute of failures.
 */
const config = loadConfigOrExit('flusher');
const logger = createLogger('spool-create-bucket', config.logLevel);
const s3 = createS3Client(config.s3);
const Bucket = config.s3.bucket as string;

for (let attempt = 1; ; attempt += 1) {
  try {
    await s3
      .send(new HeadBucketCommand({ Bucket }))
      .catch(() => s3.send(new CreateBucketCommand({ Bucket })));
    logger.info({ bucket: Bucket }, 'bucket ready');
    break;
  } catch (error) {
    if (attempt >= 60) {
      logger.error({ err: error, bucket: Bucket }, 'could not create the bucket');
      process.exit(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}
s3.destroy();
