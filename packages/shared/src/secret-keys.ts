import { hash } from 'node:crypto';

/**
 * Key checks for every key Spool takes (write keys, admin keys). A key arrives as
 * `Authorization: Bearer <key>` or as HTTP Basic with the key as user name (what Segment-style
 * SDKs send, and what a browser's login prompt sends). A presented key is hashed with SHA-256
 * whole, and only its digest is looked up among the configured keys' digests: the time a lookup
 * takes depends on the digest alone, and how much of a guess's digest matches a key's tells
 * nothing of how much of the guess was right, so the check is constant-time in the key. Keys are
 * never logged (pino redacts the header).
 */

export const sha256 = (text: string): Buffer => hash('sha256', text, 'buffer');

/** The key a request presents, or undefined. */
export function presentedKey(authorization: string | undefined): string | undefined {
  const { scheme, credentials } = authorizationParts(authorization);
  if (scheme === 'bearer') return credentials || undefined;
  if (scheme === 'basic') return basicCredentials(credentials).user || undefined;
  return undefined;
}

/**
 * An `Authorization` header's scheme (lower case) and the rest as it is: a key holding a run of
 * spaces (the settings allow one) must reach the comparison whole, not with the run made one space.
 */
function authorizationParts(authorization: string | undefined): { scheme: string; credentials: string } {
  const [, scheme = '', credentials = ''] = /^(\S+)(?:\s+(.*))?$/s.exec(authorization?.trim() ?? '') ?? [];
  return { scheme: scheme.toLowerCase(), credentials };
}

/** HTTP Basic credentials decoded: the user name, and the password after the first colon (if any). */
function basicCredentials(credentials: string): { user: string; password: string | undefined } {
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1
    ? { user: decoded, password: undefined }
    : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * The password of an HTTP Basic `Authorization`, or undefined: where a browser's login prompt
 * puts what is typed in its password field, as an on-call engineer types a secret (the admin
 * views take the key there too; the prompt then hides it).
 */
export function basicPassword(authorization: string | undefined): string | undefined {
  const { scheme, credentials } = authorizationParts(authorization);
  return scheme === 'basic' ? basicCredentials(credentials).password || undefined : undefined;
}

/**
 * Matches a presented key against configured ones by its SHA-256 digest (above): the value of the
 * first that matches, or undefined. One lookup, however many keys are configured: comparing the
 * digest with each key's in turn cost 92 µs a check with 1,000 keys, two or three checks a request
 * (docs/benchmarks.md).
 */
export function keyMatcher<T>(entries: ReadonlyArray<{ key: string; value: T }>) {
  const byDigest = new Map<string, T>();
  for (const { key, value } of entries) {
    const digest = keyDigest(key);
    if (!byDigest.has(digest)) byDigest.set(digest, value);
  }
  // `unknown`: what a query parser hands on may be an array (`?writeKey=a&writeKey=b`); only a
  // string is a key.
  return (presented: unknown): T | undefined =>
    typeof presented === 'string' && presented !== '' ? byDigest.get(keyDigest(presented)) : undefined;
}

/** A key's SHA-256 digest as text: Node hashes to a string some four times faster than to a Buffer. */
const keyDigest = (key: string): string => hash('sha256', key, 'base64');
