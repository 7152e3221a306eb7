// e. Freshness: time from the 202 to the object being readable in S3, for a request that
//    crosses the threshold, against a direct S3 PutObject of the same bytes (gzip) from the client.
import { gzipSync } from 'node:zlib';
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { markdown, startFlusher, startIngest, startStack } from './lib.mjs';

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function run({ rounds = 7 } = {}) {
  const redis = await startStack({ s3: true });
  const { s3 } = redis.stack;
  const ingest = await startIngest(redis, { FLUSH_THRESHOLD_BYTES: '64KiB' });
  await startFlusher(redis, { FLUSH_THRESHOLD_BYTES: '64KiB' });
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: s3.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  const events = Array.from({ length: 400 }, (_, i) => ({
    event: 'page',
    userId: `u-${i}`,
    pad: 'x'.repeat(150),
  }));
  const body = JSON.stringify(events);
  const spool = [];
  const direct = [];
  for (let round = 0; round < rounds; round += 1) {
    const stream = `fresh-${round}`;
    const response = await fetch(`${ingest}/v1/streams/${stream}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    if (response.status !== 202) throw new Error(`ingest answered ${response.status}`);
    const accepted = performance.now();
    for (;;) {
      const listing = await client.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `stream=${stream}/` }),
      );
      if ((listing.Contents ?? []).length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    spool.push(performance.now() - accepted);

    const putStarted = performance.now();
    await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: `direct/${round}.ndjson.gz`,
        Body: gzipSync(events.map((e) => JSON.stringify(e)).join('\n')),
      }),
    );
    direct.push(performance.now() - putStarted);
  }
  client.destroy();
  redis.redis.disconnect();
  const result = {
    spoolMs: { median: median(spool), max: Math.max(...spool) },
    directMs: { median: median(direct), max: Math.max(...direct) },
  };
  return {
    name: 'e. freshness',
    target: 'reported, no target',
    ratio: result.spoolMs.median / result.directMs.median,
    met: true,
    ...result,
    markdown: markdown(
      `e. Freshness: 202 to object readable (threshold-crossing request, ${rounds} rounds)`,
      ['', 'median ms', 'max ms'],
      [
        [
          'direct PutObject of the same events (gzip)',
          result.directMs.median.toFixed(1),
          result.directMs.max.toFixed(1),
        ],
        ['spool: 202 → object listed in S3', result.spoolMs.median.toFixed(1), result.spoolMs.max.toFixed(1)],
      ],
    ),
  };
}
