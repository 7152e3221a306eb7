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

/** A configured write key that a request presented. */
export interface VerifiedKey {
  /** For rate limiting: a digest, never the key. */
  identity: string;
  streams: WriteKey['streams'];
}

/**
 * The configured write keys. `verify` compares a presented key's digest with every configured
 * one in constant time; `open` is true when none are configured (ALLOW_ANONYMOUS_WRITES).
 */
export function writeKeyVerifier(writeKeys: readonly WriteKey[]) {
  const keys = writeKeys.map(({ key, streams }) => {
    const digest = sha256(key);
    // Only a digest reaches Redis (rate-limit counters) or a log.
    return { digest, identity: `key:${digest.toString('base64url').slice(0, 22)}`, streams };
  });
  return {
    open: keys.length === 0,
    verify(key: string | undefined): VerifiedKey | undefined {
      if (key === undefined || key === '') return undefined;
      const digest = sha256(key);
      let match: VerifiedKey | undefined;
      for (const candidate of keys) {
        if (timingSafeEqual(candidate.digest, digest) && match === undefined) match = candidate;
      }
      return match && { identity: match.identity, streams: match.streams };
    },
  };
}

export type WriteKeyVerifier = ReturnType<typeof writeKeyVerifier>;

/** The native API's rule: the key in Authorization, allowed on the stream of the path. */
export function createWriteKeyCheck(
  writeKeys: readonly WriteKey[],
): (authorization: string | undefined, stream: string) => AuthResult {
  const verifier = writeKeyVerifier(writeKeys);
  return (authorization, stream) => {
    if (verifier.open) return { ok: true };
    const presented = presentedKey(authorization);
    if (presented === undefined) {
      return {
        ok: false,
        status: 401,
        reason: 'A write key is required: Authorization: Bearer <key>, or Basic with the key as user name',
      };
    }
    const key = verifier.verify(presented);
    if (!key) return { ok: false, status: 401, reason: 'The write key is not valid' };
    if (key.streams !== '*' && !key.streams.has(stream)) {
      return { ok: false, status: 403, reason: stream, identity: key.identity };
    }
    return { ok: true, identity: key.identity };
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
