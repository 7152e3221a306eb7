import { keyMatcher, presentedKey, sha256, type WriteKey } from '@spool/shared';

/** Write-key checks, on the rules every Spool key follows (secret-keys.ts in @spool/shared). */

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
  const verify = keyMatcher<VerifiedKey>(
    writeKeys.map(({ key, streams }) => ({
      key,
      // Only a digest reaches Redis (rate-limit counters) or a log.
      value: { identity: `key:${sha256(key).toString('base64url').slice(0, 22)}`, streams },
    })),
  );
  return { open: writeKeys.length === 0, verify };
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
