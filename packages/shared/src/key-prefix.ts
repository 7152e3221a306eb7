/**
 * What is wrong with an S3 key prefix (S3_PREFIX, `spool replay --to-prefix`), or undefined. A
 * prefix is a folder: it ends in '/' (without it keys would read `eventsstream=web/…`, and the side
 * files would no longer start a segment of their own), and none of its segments is `.`, `..` or
 * empty: S3 keeps them as written, but some S3-compatible stores (the file-backed ones) and
 * readers' paths resolve them to another folder, where the objects would mix with others, and
 * MinIO refuses a key with an empty one (`/events/`, `a//b/`), as does the S3 stand-in: every flush
 * failed, and a generation stays where its first attempt went, so correcting S3_PREFIX did not
 * release it (a review's run).
 */
export function keyPrefixProblem(prefix: string): string | undefined {
  if (prefix === '') return undefined;
  if (!prefix.endsWith('/')) return `expected a prefix ending in "/" (as "events/"); got "${prefix}"`;
  const segments = prefix.slice(0, -1).split('/');
  const odd = segments.find((segment) => segment === '.' || segment === '..' || segment === '');
  if (odd !== undefined) {
    return `a segment of "${prefix}" is ${odd === '' ? 'empty' : `"${odd}"`}, which some stores refuse, or with readers resolve to another folder`;
  }
  // Too long for the keys under it, the same way: every flush failed, and stayed on it once corrected.
  const shown = prefix.length > 40 ? `${prefix.slice(0, 40)}…` : prefix;
  const long = segments.find((segment) => Buffer.byteLength(segment) > MAX_SEGMENT_BYTES);
  if (long !== undefined) {
    return `a segment of "${shown}" is ${Buffer.byteLength(long)} bytes, more than the ${MAX_SEGMENT_BYTES} stores that keep objects as files take (MinIO, the S3 stand-in)`;
  }
  if (Buffer.byteLength(prefix) > MAX_KEY_BYTES - ROOM_FOR_KEYS) {
    return `"${shown}" is ${Buffer.byteLength(prefix)} bytes: with the up to ${ROOM_FOR_KEYS} bytes of the keys under it, it passes S3's ${MAX_KEY_BYTES}-byte key (at most ${MAX_KEY_BYTES - ROOM_FOR_KEYS})`;
  }
  return undefined;
}

/** The longest key S3 takes, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
/**
 * Room for what Spool writes under a prefix: its longest key past the prefix (an object's, with
 * two 64-character stream names, a 20-digit generation and a shard) is some 215 bytes.
 */
const ROOM_FOR_KEYS = 256;
/** A file name's limit: stores that keep each object as a file refuse a longer segment. */
const MAX_SEGMENT_BYTES = 255;
