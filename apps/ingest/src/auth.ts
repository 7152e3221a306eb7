import { createHash, timingSafeEqual } from 'node:crypto';
import type { WriteKey } from '@spool/shared';

/**
 * Write-key checks. A key arrives as `Authorization: Bearer <key>` or as HTTP Basic with the key
 * as user name (what Segment-style analytics SDKs send). Keys are compared as SHA-256 digests
 * with timingSafeEqual against every configured key, so neither the comparison nor the number of
 * keys tried reveals how much of a guess was right. Keys are never logged (pino redacts the header).
 */

/**
 * `identity` names a verified write key for rate limiting (`key:<digest>`); it is absent when no
 * key was verified (an open service, or a missing or unknown key), and the client address counts.
 */
export type AuthResult =
  | { ok: true; identity?: string }
  | { ok: false; status: 401 | 403; reason: string; identity?: string };

declare module 'fastify' {
  interface FastifyRequest {
    /** The write-key check of this request, made before anything else reads it. */
    auth?: AuthResult;
  }
}

interface HashedKey {
  digest: Buffer;
  identity: string;
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
  const keys: HashedKey[] = writeKeys.map(({ key, streams }) => {
    const digest = sha256(key);
    // Only a digest reaches Redis (rate-limit counters) or a log.
    return { digest, identity: `key:${digest.toString('base64url').slice(0, 22)}`, streams };
  });

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
      return { ok: false, status: 403, reason: stream, identity: match.identity };
    }
    return { ok: true, identity: match.identity };
  };
}

/**
 * Who a request counts as for rate limiting: its verified write key, else its client address
 * (through TRUST_PROXY). A key that was not verified never names a bucket of its own, so neither
 * random keys on an open service nor guesses at a keyed one escape the per-address limit.
 */
export function rateLimitIdentity(auth: AuthResult | undefined, ip: string): string {
  return auth?.identity ?? `ip:${ip}`;
}
