import type { IncomingHttpHeaders } from 'node:http';
import { isIPv6 } from 'node:net';
import {
  ipv6Groups,
  keyMatcher,
  mappedIpv4,
  percentDecoded,
  presentedKey,
  sha256,
  type WriteKey,
} from '@spool/shared';

/** Write-key checks, on the rules every Spool key follows (secret-keys.ts in @spool/shared). */

/**
 * The answer to a write key that is none of WRITE_KEYS, on every route. RudderStack's mobile SDKs
 * (rudder-sdk-android, rudder-sdk-ios) tell a wrong key from a passing failure by this text in the
 * body (any case), as rudder-server sends it: with other words they retry the same batch for ever.
 */
export const INVALID_WRITE_KEY = 'Invalid write key';

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
  /** The stream the tracking API writes the key's messages to: its first; none for a `*` key. */
  firstStream: string | undefined;
}

/**
 * The configured write keys. `verify` looks a presented key up by its SHA-256 digest
 * (`keyMatcher`: no comparison of the key itself, so nothing to time); `open` is true when none
 * are configured (ALLOW_ANONYMOUS_WRITES).
 * `replace` puts another set of keys in use at once, for every route (WRITE_KEYS_FILE changed):
 * the service stays keyed, as a key file that holds no key is refused before.
 */
export function writeKeyVerifier(writeKeys: readonly WriteKey[]) {
  const matcherOf = (keys: readonly WriteKey[]) =>
    keyMatcher<VerifiedKey>(
      keys.map(({ key, streams }) => ({
        key,
        // Only a digest reaches Redis (rate-limit counters) or a log.
        value: {
          identity: `key:${sha256(key).toString('base64url').slice(0, 22)}`,
          streams,
          // Found once here: a key may be allowed on thousands of streams.
          firstStream: streams === '*' ? undefined : streams.values().next().value,
        },
      })),
    );
  let matcher = matcherOf(writeKeys);
  return {
    open: writeKeys.length === 0,
    verify: (presented: unknown) => matcher(presented),
    replace(keys: readonly WriteKey[]) {
      if (keys.length > 0) matcher = matcherOf(keys);
    },
  };
}

export type WriteKeyVerifier = ReturnType<typeof writeKeyVerifier>;

/**
 * The write key a request carries in a header, read before its body: the Authorization header's
 * (Basic user name or Bearer), else `X-Write-Key` (Jitsu's SDK). A repeated X-Write-Key arrives
 * joined (`a, b`), and is no configured key.
 */
export function headerKey(headers: IncomingHttpHeaders): string | undefined {
  const key = presentedKey(headers.authorization);
  if (key !== undefined) return key;
  const jitsu = headers['x-write-key'];
  return typeof jitsu === 'string' && jitsu !== '' ? jitsu : undefined;
}

/**
 * The write key a request's headers decide it by, before its body is read: `headerKey`, less a
 * Bearer that is no configured key. Segment's OAuth sends an access token as Bearer with the write
 * key in the body (analytics-node's `oauthSettings`), so such a Bearer is left for the body's key
 * (or the query's) to decide; a request that carries no other key is refused as it was. Spool does
 * not check the token: the write key is what it trusts.
 */
export function decidingHeaderKey(headers: IncomingHttpHeaders, keys: WriteKeyVerifier): string | undefined {
  const presented = headerKey(headers);
  if (presented === undefined || keys.open || !/^\s*bearer\s/i.test(headers.authorization ?? ''))
    return presented;
  return keys.verify(presented) ? presented : undefined;
}

/**
 * The `writeKey` (or another `name`: Jitsu's `writekey`) of a request URL's query (the beacon's,
 * RudderStack's source config's); one, and a repeated one is none. Read from the raw URL, not the
 * parsed query, which takes `+` for a space: rudder-analytics-js puts the key in its beacon's URL
 * as it is, so a key's `+` (base64 keys hold them) must stay `+`. %-escapes are decoded, in the
 * name too (its source-config request encodes the key); text that is no escape stays as it is.
 * The query begins where the router's does, at the first `?` or `#`: read from the first `?`,
 * `/v1/batch#x=1?writeKey=<key>` was let in by a key the request log, reading as the router,
 * took for part of another parameter and logged whole (a review's run).
 */
export function queryKey(url: string, name = 'writeKey'): string | undefined {
  const start = url.search(/[?#]/);
  if (start === -1) return undefined;
  let found: string | undefined;
  for (const parameter of url.slice(start + 1).split('&')) {
    const equals = parameter.indexOf('=');
    if (equals === -1 || percentDecoded(parameter.slice(0, equals)) !== name) continue;
    if (found !== undefined) return undefined;
    found = percentDecoded(parameter.slice(equals + 1));
  }
  return found;
}

/** A tracking request's key in its URL: `?writeKey=` (the beacon's), or Jitsu's `?writekey=`. */
export function urlKey(url: string): string | undefined {
  return queryKey(url) ?? queryKey(url, 'writekey');
}

/** The native API's rule: the key in Authorization, allowed on the stream of the path. */
export function createWriteKeyCheck(
  verifier: WriteKeyVerifier,
): (authorization: string | undefined, stream: string) => AuthResult {
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
    if (!key) return { ok: false, status: 401, reason: INVALID_WRITE_KEY };
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
  return auth?.identity ?? `ip:${addressBucket(ip)}`;
}

/**
 * The bucket of a client address: an IPv4 address itself, however it is written (an IPv4-mapped
 * IPv6 address is the IPv4 one); an IPv6 address by its /64, the smallest block a provider hands
 * a site, so a client cannot take a fresh bucket for each of its addresses.
 */
export function addressBucket(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const mapped = mappedIpv4(ip);
  if (mapped !== undefined) return mapped;
  return `${ipv6Groups(ip)
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}
