import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Key checks for every key Spool takes (write keys, admin keys). A key arrives as
 * `Authorization: Bearer <key>` or as HTTP Basic with the key as user name (what Segment-style
 * SDKs send, and what a browser's login prompt sends). Keys are compared as SHA-256 digests with
 * timingSafeEqual against every configured key, so neither the comparison nor the number of keys
 * tried reveals how much of a guess was right. Keys are never logged (pino redacts the header).
 */

export const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** The key a request presents, or undefined. */
export function presentedKey(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  // The scheme, then the rest as it is: a key holding a run of spaces (the settings allow one)
  // must reach the comparison whole, not with the run made one space.
  const [, scheme = '', credentials = ''] = /^(\S+)(?:\s+(.*))?$/s.exec(authorization.trim()) ?? [];
  if (scheme.toLowerCase() === 'bearer') return credentials || undefined;
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon === -1 ? decoded : decoded.slice(0, colon);
    return user || undefined;
  }
  return undefined;
}

/**
 * Matches a presented key against configured ones, in constant time: the value of the first that
 * matches, or undefined. Every configured digest is compared, whatever matched.
 */
export function keyMatcher<T>(entries: ReadonlyArray<{ key: string; value: T }>) {
  const digests = entries.map(({ key, value }) => ({ digest: sha256(key), value }));
  // `unknown`: what a query parser hands on may be an array (`?writeKey=a&writeKey=b`); only a
  // string is a key.
  return (presented: unknown): T | undefined => {
    if (typeof presented !== 'string' || presented === '') return undefined;
    const digest = sha256(presented);
    let match: { value: T } | undefined;
    for (const candidate of digests) {
      if (timingSafeEqual(candidate.digest, digest) && match === undefined) match = candidate;
    }
    return match?.value;
  };
}
