// A stand-in for the MinIO image where no image can be pulled: s3rver speaking the same
// interface (`server <dir>`, port 9000, MINIO_ROOT_USER / MINIO_ROOT_PASSWORD), so the test
// harness starts either image with identical options. `make dev` runs it directly as its
// embedded S3-compatible store.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver');
const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account');

import { multipartUploads } from './multipart-uploads.mjs';

const [command, directory = '/data'] = process.argv.slice(2);
if (command !== 'server') {
  console.error(`usage: serve.mjs server <directory>  (got: ${process.argv.slice(2).join(' ')})`);
  process.exit(2);
}

// s3rver checks request signatures against its account registry; register the MinIO-style keys.
DUMMY_ACCOUNT.createKeyPair(
  process.env.MINIO_ROOT_USER ?? 'minioadmin',
  process.env.MINIO_ROOT_PASSWORD ?? 'minioadmin',
);

const server = new S3rver({
  address: process.env.S3_ADDRESS ?? '0.0.0.0',
  port: Number(process.env.S3_PORT ?? 9000),
  directory,
  silent: process.env.S3_LOG !== '1',
  // Path-style only, as MinIO without MINIO_DOMAIN: otherwise s3rver takes any host name that is
  // not an IP or localhost (e.g. the compose service name `s3`) for a bucket name.
  vhostBuckets: false,
  // S3_BUCKETS=a,b creates those buckets at start (kept if they exist).
  configureBuckets: (process.env.S3_BUCKETS ?? '')
    .split(',')
    .filter(Boolean)
    .map((name) => ({ name })),
});
// Before s3rver's router (the last middleware), which does not implement these two calls.
server.middleware.splice(server.middleware.length - 1, 0, multipartUploads(server.store));
const { address, port } = await server.run();
console.log(`s3rver listening on ${address}:${port}, storing in ${directory}`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close().then(() => process.exit(0)));
}
