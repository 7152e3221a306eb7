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
  const odd = prefix
    .slice(0, -1)
    .split('/')
    .find((segment) => segment === '.' || segment === '..' || segment === '');
  if (odd !== undefined) {
    return `a segment of "${prefix}" is ${odd === '' ? 'empty' : `"${odd}"`}, which some stores refuse, or with readers resolve to another folder`;
  }
  return undefined;
}
