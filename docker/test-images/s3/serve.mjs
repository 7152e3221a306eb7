// A stand-in for the MinIO image where no image can be pulled: s3rver speaking the same
// interface (`server <dir>`, port 9000, MINIO_ROOT_USER / MINIO_ROOT_PASSWORD), so the test
// harness starts either image with identical options. `make dev` runs it directly as its
// embedded S3-compatible store.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// s3rver names each page of a listing by a token it encrypts with single DES, which Node's OpenSSL
// 3 keeps in its legacy provider: every listing of more than 1,000 keys answered 500. The token is
// s3rver's own and opaque to clients, so it gets Triple DES with the key thrice (the same cipher
// in effect, with DES's 8-byte blocks), which the default provider has. Patched before s3rver
// loads: it calls these through the module object, at each listing.
const crypto = require('node:crypto');
for (const name of ['createCipheriv', 'createDecipheriv']) {
  const original = crypto[name];
  crypto[name] = (algorithm, key, iv, options) =>
    algorithm === 'des'
      ? original('des-ede3-cbc', Buffer.concat([key, key, key]), iv, options)
      : original(algorithm, key, iv, options);
}

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

const listenAddress = process.env.S3_ADDRESS ?? '0.0.0.0';
const listenPort = Number(process.env.S3_PORT ?? 9000);
const server = new S3rver({
  address: listenAddress,
  port: listenPort,
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
// s3rver leaves its server's 'error' unhandled: a port in use was a 20-line stack trace.
const listenFailed = (error) => {
  console.error(
    error.code === 'EADDRINUSE'
      ? `s3: ${listenAddress}:${listenPort} is in use by another process`
      : `s3: ${error.message}`,
  );
  process.exit(1);
};
process.once('uncaughtException', listenFailed);
const { address, port } = await server.run();
process.off('uncaughtException', listenFailed);
console.log(`s3rver listening on ${address}:${port}, storing in ${directory}`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close().then(() => process.exit(0)));
}
