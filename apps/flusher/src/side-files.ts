import { type RedisClient, type SideFile, type StreamKeys, sideFileKeys, startDrain } from '@spool/shared';

/**
 * Writes a stream's pending side-file entries (its quarantine's, or its manifest lines) to S3, the
 * one way both are written: the entries are taken out of service first (drain-4.lua), handed to
 * `write` with the id that names their object, and deleted only after it resolved. So a crash at
 * any point writes the same object again, never a second one; and a writer that stalled while
 * another finished its drain and began the next never writes the next one's entries under its id
 * (the entries and the id are read in one transaction). Returns the drain's id, or undefined.
 */
export async function drainSideFile<Entries>(
  redis: RedisClient,
  keys: StreamKeys,
  kind: SideFile,
  write: (id: string, entries: Entries) => Promise<void>,
): Promise<string | undefined> {
  const id = await startDrain(redis, keys, kind);
  if (!id) return undefined;
  const { draining, drainingId } = sideFileKeys(keys, kind);
  const read = redis.multi().get(drainingId);
  if (kind === 'quarantine') read.lrange(draining, 0, -1);
  else read.hgetall(draining);
  const [[, current], [, entries]] = (await read.exec()) as [
    [Error | null, string | null],
    [Error | null, Entries],
  ];
  if (current !== id) return undefined;
  await write(id, entries);
  await redis.eval(
    "if redis.call('GET', KEYS[2]) == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) end return 0",
    2,
    draining,
    drainingId,
    id,
  );
  return id;
}
