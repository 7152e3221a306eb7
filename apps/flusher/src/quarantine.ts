import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type RedisClient, startQuarantineDrain, streamKeys, streamOfUnit } from '@spool/shared';

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
 * oldest has waited `maxAgeMs`, or when an earlier drain was left unfinished: the entries are moved
 * out of service first (drain-quarantine-4.lua), written under their drain's key, and deleted only
 * after S3 confirmed, so a crash at any point writes the same object again, never a second one.
 * Returns the key written, or undefined.
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
    const [length, oldest] = await Promise.all([
      redis.llen(keys.quarantine),
      redis.lindex(keys.quarantine, 0),
    ]);
    if (length === 0) return undefined;
    const receivedAt = Date.parse((JSON.parse(oldest ?? '{}') as { receivedAt?: string }).receivedAt ?? '');
    const old = Number.isNaN(receivedAt) || now - receivedAt >= when.maxAgeMs;
    if (length < when.fullAt && !old) return undefined;
  }
  const id = await startQuarantineDrain(redis, keys);
  if (!id) return undefined;
  // The entries and the id in one transaction: a sweep that stalled here while another finished
  // this drain and started the next must not write the next one's entries under this one's key.
  const [[, current], [, entries]] = (await redis
    .multi()
    .get(keys.quarantineDrainingId)
    .lrange(keys.quarantineDraining, 0, -1)
    .exec()) as [[Error | null, string | null], [Error | null, string[]]];
  if (current !== id) return undefined;
  const key = quarantineKey(prefix, streamOfUnit(unit), id);
  if (entries.length > 0) {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: entries.map((entry) => `${entry}\n`).join(''),
        ContentType: 'application/x-ndjson',
      }),
    );
  }
  await redis.eval(
    "if redis.call('GET', KEYS[2]) == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) end return 0",
    2,
    keys.quarantineDraining,
    keys.quarantineDrainingId,
    id,
  );
  return key;
}
