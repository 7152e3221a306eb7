import { writeFileSync } from 'node:fs';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import {
  GetObjectCommand,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';

/** Saves an object's bytes, as stored, to `file` (for DuckDB to read a Parquet object). */
export async function saveObject(s3: S3Client, bucket: string, key: string, file: string): Promise<void> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  writeFileSync(file, Buffer.from((await object.Body?.transformToByteArray()) ?? []));
}

/** Every object key under `prefix`, in key order. */
export async function listObjectKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
  }
  return keys.sort();
}

/** Multipart uploads started and neither completed nor aborted under `prefix`: keys, in key order. */
export async function listOpenUploads(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await s3.send(
      new ListMultipartUploadsCommand({
        Bucket: bucket,
        Prefix: prefix,
        KeyMarker: keyMarker,
        UploadIdMarker: uploadIdMarker,
      }),
    );
    for (const upload of page.Uploads ?? []) if (upload.Key) keys.push(upload.Key);
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
  } while (keyMarker);
  return keys.sort();
}

export interface SpoolObject {
  key: string;
  raw: Buffer;
  lines: string[];
  metadata: Record<string, string>;
  contentType: string | undefined;
}

/**
 * Downloads a Spool object, decompresses it by its extension (`.ndjson.gz`, `.ndjson.zst`, none for
 * the quarantine's `.ndjson`) and
 * splits it into lines (each ended by "\n").
 */
export async function readSpoolObject(s3: S3Client, bucket: string, key: string): Promise<SpoolObject> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
  const raw = key.endsWith('.zst')
    ? zstdDecompressSync(body)
    : key.endsWith('.ndjson') // the quarantine's, uncompressed
      ? body
      : gunzipSync(body);
  const text = raw.toString('utf8');
  if (text !== '' && !text.endsWith('\n')) throw new Error(`${key} does not end with a newline`);
  return {
    key,
    raw,
    lines: text === '' ? [] : text.slice(0, -1).split('\n'),
    metadata: object.Metadata ?? {},
    contentType: object.ContentType,
  };
}
