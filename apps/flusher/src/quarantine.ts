import type { S3Client } from '@aws-sdk/client-s3';
import { type RedisClient, streamKeys, streamOfUnit } from '@spool/shared';
import { drainSideFile } from './side-files.js';
import { putObjectConfirmed } from './upload.js';

/**
 * The S3 key of a quarantine drain: `{S3_PREFIX}_quarantine/stream=<s>/dt=<day>/<s>-<stamp>-q<n>.ndjson`,
 * day and stamp from the drain's time (UTC), n counting the stream's drains. Under `_quarantine/`,
 * so readers' globs over `stream=*` never take rejected events for events.
 */
export function quarantineKey(prefix: string, stream: string, drainingId: string): string {
  const [n, ms] = drainingId.split(':');
  const iso = new Date(Number(ms)).toISOString();
  const stamp = `${iso.slice(0, 10).replaceAll('-', '')}T${iso.slice(11, 19).replaceAll(':', '')}${iso.slice(20, 23)}Z`;
  return `${prefix}_quarantine/stream=${stream}/dt=${iso.slice(0, 10)}/${stream}-${stamp}-q${n}.ndjson`;
}

export interface QuarantineDeps {
  redis: RedisClient;
  s3: S3Client;
  bucket: string;
  prefix: string;
  namespace: string;
}

/**
 * Writes a stream's kept rejected events to S3 when there are enough of them (`fullAt`) or the
 * oldest has waited `maxAgeMs`, or when an earlier drain was left unfinished (side-files.ts: a
 * crash writes the same object again, never a second one). Returns the key written, or undefined
 * when none was.
 */
export async function drainQuarantine(
  deps: QuarantineDeps,
  unit: string,
  now: number,
  when: { fullAt: number; maxAgeMs: number },
): Promise<string | undefined> {
  const { redis, s3, bucket, prefix, namespace } = deps;
  const keys = streamKeys(unit, namespace);
  if ((await redis.exists(keys.quarantineDrainingId)) === 0) {
    const [length, since] = await Promise.all([redis.llen(keys.quarantine), redis.get(keys.quarantineSince)]);
    if (length === 0) return undefined;
    // `since` is on Redis's clock, as `now` is (reject-4.lua); without it (kept by an earlier
    // version), the entries are of unknown age: written now.
    const old = since === null || now - Number(since) >= when.maxAgeMs;
    if (length < when.fullAt && !old) return undefined;
  }
  let written: string | undefined;
  const drained = await drainSideFile<string[]>(redis, keys, 'quarantine', async (id, entries) => {
    // A drain whose entries are gone (deleted by hand while it was unfinished) writes nothing.
    if (entries.length === 0) return;
    const key = quarantineKey(prefix, streamOfUnit(unit), id);
    await putObjectConfirmed(s3, {
      Bucket: bucket,
      Key: key,
      Body: entries.map((entry) => `${entry}\n`).join(''),
      ContentType: 'application/x-ndjson',
    });
    written = key;
  });
  // Its age goes with it, unless new entries came meanwhile (they keep the age the first of them set).
  if (drained) {
    await redis.eval(
      "if redis.call('LLEN', KEYS[1]) == 0 then return redis.call('DEL', KEYS[2]) end return 0",
      2,
      keys.quarantine,
      keys.quarantineSince,
    );
  }
  return written;
}
