import { createHash, timingSafeEqual } from 'node:crypto';
import type { WriteKey } from '@spool/shared';

/**
 * Write-key checks. A key arrives as `Authorization: Bearer <key>` or as HTTP Basic with the key
 * as user name (what Segment-style analytics SDKs send). Keys are compared as SHA-256 digests
 * with timingSafeEqual against every configured key, so neither the comparison nor the number of
 * keys tried reveals how much of a guess was right. Keys are never logged (pino redacts the header).
 */

export type AuthResult = { ok: true } | { ok: false; status: 401 | 403; reason: string };

interface HashedKey {
  digest: Buffer;
  streams: WriteKey['streams'];
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/** The key a request presents, or undefined. */
export function presentedKey(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const [scheme = '', ...rest] = authorization.trim().split(/\s+/);
  const credentials = rest.join(' ');
  if (scheme.toLowerCase() === 'bearer') return credentials || undefined;
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon === -1 ? decoded : decoded.slice(0, colon);
    return user || undefined;
  }
  return undefined;
}

export function createWriteKeyCheck(
  writeKeys: readonly WriteKey[],
): (authorization: string | undefined, stream: string) => AuthResult {
  const keys: HashedKey[] = writeKeys.map(({ key, streams }) => ({ digest: sha256(key), streams }));

  return (authorization, stream) => {
    if (keys.length === 0) return { ok: true };
    const key = presentedKey(authorization);
    if (key === undefined) {
      return {
        ok: false,
        status: 401,
        reason: 'A write key is required: Authorization: Bearer <key>, or Basic with the key as user name',
      };
    }
    const digest = sha256(key);
    let match: HashedKey | undefined;
    for (const candidate of keys) {
      if (timingSafeEqual(candidate.digest, digest) && match === undefined) match = candidate;
    }
    if (!match) return { ok: false, status: 401, reason: 'The write key is not valid' };
    if (match.streams !== '*' && !match.streams.has(stream)) {
      return { ok: false, status: 403, reason: stream };
    }
    return { ok: true };
  };
}

/**
 * Who a request counts as for rate limiting: a digest of its write key (the key itself never
 * reaches Redis or the logs), or its IP address when it presents none.
 */
export function clientIdentity(authorization: string | undefined, ip: string): string {
  const key = presentedKey(authorization);
  return key === undefined ? `ip:${ip}` : `key:${sha256(key).toString('base64url').slice(0, 22)}`;
}
