// What uploading a flush's output costs on the bench machine's cores: the flusher's own upload
// (apps/flusher/dist/upload.js: 8 MiB parts, 2 in flight) of N MiB of random bytes (compressed
// output does not compress further) to the S3 stand-in (s3rver, as in `make bench`), three
// rounds: the time, and the CPU seconds of this process and of the stand-in. In d, j and k the
// stand-in shares the two cores with the flusher, and its part of a flush counts in their time,
// where `pigz`, `zstd -T0` and DuckDB's COPY only write to /dev/null or a local file.
// Not a scenario of `make bench`. Usage: node bench/analysis/upload-to-stand-in.mjs [MiB=55]
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { cpuSeconds, freePort, ROOT, start, stopAll, tempDir, until } from '../lib.mjs';

const MiB = 1024 * 1024;
const mebibytes = Number(process.argv[2] ?? 55);
const require = createRequire(join(ROOT, 'apps/flusher/package.json'));
const { S3Client } = require('@aws-sdk/client-s3');
const { uploadBody } = await import(join(ROOT, 'apps/flusher/dist/upload.js'));

const port = await freePort();
const standin = start(
  process.execPath,
  [join(ROOT, 'docker/test-images/s3/serve.mjs'), 'server', tempDir('s3')],
  {
    S3_PORT: String(port),
    S3_ADDRESS: '127.0.0.1',
    S3_BUCKETS: 'bench',
  },
);
const endpoint = `http://127.0.0.1:${port}`;
try {
  await until('s3', async () => (await fetch(`${endpoint}/`)).status < 500);
  const s3 = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'minioadmin', secretAccessKey: 'minioadmin' },
  });
  const pieces = Array.from({ length: mebibytes }, () => randomBytes(MiB));
  console.log(`uploading ${mebibytes} MiB to the S3 stand-in, 8 MiB parts`);
  for (let round = 0; round < 3; round++) {
    const ownBefore = process.cpuUsage();
    const standinBefore = cpuSeconds(standin.pid);
    const started = performance.now();
    const target = { s3, bucket: 'bench', key: `round-${round}` };
    await uploadBody(target, { pieces, contentType: 'application/zstd', metadata: {} }, 8 * MiB);
    const own = process.cpuUsage(ownBefore);
    console.log(
      `round ${round}: ${(performance.now() - started).toFixed(0)} ms; CPU: this process ` +
        `${((own.user + own.system) / 1e6).toFixed(2)} s, the stand-in ` +
        `${(cpuSeconds(standin.pid) - standinBefore).toFixed(2)} s`,
    );
  }
} finally {
  await stopAll();
}
