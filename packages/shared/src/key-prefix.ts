/**
 * What is wrong with an S3 key prefix (S3_PREFIX, `spool replay --to-prefix`), or undefined. A
 * prefix is a folder: it ends in '/' (without it keys would read `eventsstream=web/…`, and the side
 * files would no longer start a segment of their own), and none of its segments is `.` or `..`: S3
 * keeps them as written, but some S3-compatible stores (the file-backed ones) and readers' paths
 * resolve them to another folder, where the objects would mix with others. With `emptySegments:
 * false`, an empty segment (`/copies/`, `a//b/`) is refused too, which those stores drop: replay's
 * target; S3_PREFIX keeps taking them, as deployments may have written under such a prefix.
 */
export function keyPrefixProblem(prefix: string, { emptySegments = true } = {}): string | undefined {
  if (prefix === '') return undefined;
  if (!prefix.endsWith('/')) return `expected a prefix ending in "/" (as "events/"); got "${prefix}"`;
  const odd = prefix
    .slice(0, -1)
    .split('/')
    .find((segment) => segment === '.' || segment === '..' || (!emptySegments && segment === ''));
  if (odd !== undefined) {
    return `a segment of "${prefix}" is ${odd === '' ? 'empty' : `"${odd}"`}, which some stores and readers resolve to another folder`;
  }
  return undefined;
}
