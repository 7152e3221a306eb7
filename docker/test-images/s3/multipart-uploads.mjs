// ListMultipartUploads and AbortMultipartUpload for the s3rver stand-in, which answers the first
// with NotImplemented and the second with 405. Spool needs both to be real: the flusher aborts
// the upload a killed flusher left open before it uploads the same generation again, and the
// chaos suite proves afterwards that no multipart upload is left open — the same S3 calls it
// makes against MinIO or AWS. s3rver keeps an open upload as a directory `<uploadId>/` (holding
// `key`, `metadata` and the parts) in the bucket's uploads directory; these read and remove it.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const authenticate = require('s3rver/lib/middleware/authentication')();
const { bucketExists } = require('s3rver/lib/controllers/bucket');
const S3Error = require('s3rver/lib/models/error');

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Koa middleware to run before s3rver's router. */
export function multipartUploads(store) {
  const uploadsDir = (bucket) => store.getResourcePath(bucket, undefined, 'uploads');

  async function openUploads(bucket) {
    const ids = await readdir(uploadsDir(bucket)).catch((error) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    const uploads = [];
    for (const id of ids) {
      const dir = join(uploadsDir(bucket), id);
      // An upload being initiated has its directory before its key file: not listed yet.
      const key = await readFile(join(dir, 'key'), 'utf8').catch(() => undefined);
      if (key === undefined) continue;
      const { mtime } = await stat(dir);
      uploads.push({ Key: key, UploadId: id, Initiated: mtime.toISOString(), StorageClass: 'STANDARD' });
    }
    return uploads.sort((a, b) => a.Key.localeCompare(b.Key) || a.Initiated.localeCompare(b.Initiated));
  }

  async function list(ctx) {
    const prefix = ctx.query.prefix ?? '';
    const uploads = (await openUploads(ctx.params.bucket)).filter((u) => u.Key.startsWith(prefix));
    ctx.body = {
      ListMultipartUploadsResult: {
        '@': { xmlns: XMLNS },
        Bucket: ctx.params.bucket,
        KeyMarker: '',
        UploadIdMarker: '',
        Prefix: prefix,
        MaxUploads: 1000,
        IsTruncated: false,
        Upload: uploads,
      },
    };
  }

  async function abort(ctx) {
    const { bucket, key } = ctx.params;
    const uploadId = String(ctx.query.uploadId);
    // The id names a directory: refuse anything that is not one plain path segment.
    const dir = /^[0-9A-Za-z_-]+$/.test(uploadId) ? join(uploadsDir(bucket), uploadId) : undefined;
    const storedKey = dir && (await readFile(join(dir, 'key'), 'utf8').catch(() => undefined));
    if (storedKey !== key) {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
    }
    await rm(dir, { recursive: true, force: true });
    ctx.status = 204;
  }

  return async function multipartUploadRoutes(ctx, next) {
    const [, bucket, ...keyParts] = ctx.path.split('/');
    const key = keyParts.map(decodeURIComponent).join('/');
    let handler;
    if (ctx.method === 'GET' && bucket && !key && 'uploads' in ctx.query) handler = list;
    if (ctx.method === 'DELETE' && bucket && key && 'uploadId' in ctx.query) handler = abort;
    if (!handler) return next();
    ctx.params = { bucket: decodeURIComponent(bucket), ...(key ? { key } : {}) };
    await authenticate(ctx, () => bucketExists(ctx, () => handler(ctx)));
  };
}
