import { isIP } from 'node:net';
import { z } from 'zod';
import { mappedIpv4 } from './ipv6.js';
import { normalHostName } from './open-host.js';
import type { PerStream } from './per-stream.js';
import { isValidStreamName } from './stream-name.js';
import { MAX_STREAM_SHARDS } from './stream-shards.js';
import { parseDuration, parseSize } from './units.js';

/**
 * The kinds of value Spool's environment variables take, each parsed from text with a message
 * that says what was expected. The schema itself is in config.ts.
 */

/** Bytes, from `1048576`, `512KiB`, `32MiB` or `1GB`. */
export const sizeText = z.string().transform((text, ctx) => {
  const bytes = parseSize(text);
  if (bytes === undefined || bytes <= 0) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a size such as 1048576, 512KiB, 32MiB or 1GB; got "${text}"`,
    });
    return z.NEVER;
  }
  return bytes;
});

export const size = (fallback: string) => z.string().default(fallback).pipe(sizeText);

/** Room kept free below Redis's maxmemory: so many bytes, or a share of maxmemory. */
export type MemoryReserve = { bytes: number } | { percent: number };

/** The most of maxmemory a reserve may keep free: past it, Redis's memory mostly goes unused. */
const MAX_RESERVE_PERCENT = 50;

/**
 * The smallest reserve given as a size: less is no room for one append, and a bare number is
 * bytes, so `25` (a `%` forgotten) turned the reserve off in silence.
 */
const MIN_RESERVE_BYTES = 1024 * 1024;

/**
 * REDIS_MEMORY_RESERVE: `10%` of maxmemory, a size (`256MiB`, at least 1MiB), or `0` for none
 * (undefined).
 */
export const memoryReserve = z
  .string()
  .default('10%')
  .transform((text, ctx): MemoryReserve | undefined => {
    const trimmed = text.trim();
    if (trimmed === '0') return undefined;
    const percent = /^(\d{1,2})%$/.exec(trimmed);
    if (percent) {
      const value = Number(percent[1]);
      if (value >= 1 && value <= MAX_RESERVE_PERCENT) return { percent: value };
    } else {
      const bytes = parseSize(trimmed);
      if (bytes !== undefined && bytes >= MIN_RESERVE_BYTES) return { bytes };
    }
    const forgotPercent = /^\d{1,2}$/.test(trimmed)
      ? ` (a bare number is bytes: did you mean ${trimmed}%?)`
      : '';
    ctx.addIssue({
      code: 'custom',
      message: `expected a share of maxmemory from 1% to ${MAX_RESERVE_PERCENT}%, a size of at least 1MiB such as 256MiB, or 0 for none; got "${text}"${forgotPercent}`,
    });
    return z.NEVER;
  });

/** The longest delay a Node timer takes (about 24.8 days): a longer one fires at once. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Milliseconds, from `250`, `250ms`, `30s`, `5m` or `1h`. */
export const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms > MAX_DURATION_MS) {
        ctx.addIssue({
          code: 'custom',
          message:
            ms === undefined
              ? `expected a duration such as 250, 250ms, 30s or 5m; got "${text}"`
              : `expected at most 2147483647ms, about 24.8 days (a timer's longest); got "${text}"`,
        });
        return z.NEVER;
      }
      return ms;
    });

export const integer = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((text, ctx) => {
      const value = Number(text);
      if (!/^\s*\d+\s*$/.test(text) || value < min || value > max) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a whole number from ${min} to ${max}; got "${text}"`,
        });
        return z.NEVER;
      }
      return value;
    });

export const boolean = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((text) => ['true', '1', 'yes'].includes(text));

/** One write key and the streams it may write (`*` = all). */
export interface WriteKey {
  key: string;
  streams: '*' | ReadonlySet<string>;
}

/**
 * The entries (1-based) whose key holds ":": a Bearer key still, but HTTP Basic, the way the
 * analytics SDKs send a write key, ends the user name at the first ":", so they cannot send it.
 */
export function entriesBasicCannotCarry(keys: readonly WriteKey[]): number[] {
  return keys.flatMap((entry, index) => (entry.key.includes(':') ? [index + 1] : []));
}

/**
 * What breaks a key in a URL that holds it as it is (the browser SDKs write it so): `? #` end the
 * path, `&` the query parameter, `%` starts an escape, and a browser reads `\` as `/`.
 */
const URL_BREAKING = /[?#%&\\]/;

/**
 * The entries (1-based) whose key the browser SDKs cannot send: they put it in URLs unencoded
 * (analytics.js's `/v1/projects/<key>/settings`, RudderStack's beacon `?writeKey=<key>`), where
 * `? # % & \` end or change it. Server SDKs (HTTP Basic) send any key.
 */
export function entriesUrlsCannotCarry(keys: readonly WriteKey[]): number[] {
  return keys.flatMap((entry, index) => (URL_BREAKING.test(entry.key) ? [index + 1] : []));
}

/**
 * A key list that is set, yet holds no key (`,`, `;`, spaces): a mistake, refused with `message`
 * rather than read as unset, which would leave the service open. True when refused.
 */
function holdsNoKey(text: string, keys: number, ctx: z.RefinementCtx, message: string): boolean {
  if (keys > 0 || text === '') return false;
  ctx.addIssue({ code: 'custom', message });
  return true;
}

/**
 * A key a client cannot be sure to send as written: HTTP headers carry bytes, and one character
 * beyond ASCII went as UTF-8 from curl and the Node SDKs' Basic, as Latin-1 from Node's fetch
 * and a browser's btoa, so a configured key was refused (401) from one client and not another.
 * A space or a control character is no token at all.
 */
function notPrintableAscii(key: string): boolean {
  return !/^[\x21-\x7e]+$/.test(key);
}

const unsendableKeyMessage = (which: string) =>
  `${which} holds a character other than printable ASCII (! to ~), which clients send differently`;

/** `key1,key2` → admin keys (at least 16 characters each); empty → none. */
export const adminKeys = z
  .string()
  .default('')
  .transform((text, ctx): string[] => {
    const keys = text
      .split(',')
      .map((key) => key.trim())
      .filter((key) => key !== '');
    if (holdsNoKey(text, keys.length, ctx, 'holds no key; leave it unset for open admin views'))
      return z.NEVER;
    // The key itself never appears in a message: configuration errors end up in logs.
    const short = keys.findIndex((key) => key.length < 16);
    if (short !== -1) {
      ctx.addIssue({ code: 'custom', message: `key ${short + 1} is shorter than 16 characters` });
      return z.NEVER;
    }
    const unsendable = keys.findIndex(notPrintableAscii);
    if (unsendable !== -1) {
      ctx.addIssue({ code: 'custom', message: unsendableKeyMessage(`key ${unsendable + 1}`) });
      return z.NEVER;
    }
    // A browser sends the key as Basic's user name, `user:password`: one holding ':' never matched.
    const colon = keys.findIndex((key) => key.includes(':'));
    if (colon !== -1) {
      ctx.addIssue({
        code: 'custom',
        message: `key ${colon + 1} holds ':', which a browser's log-in cannot send (Basic takes it for the password's start)`,
      });
      return z.NEVER;
    }
    // As WRITE_KEYS: a key given twice is a list pasted wrong (one meant to be rotated in, say).
    // Looked up, not searched, as there: a long key file's start was quadratic.
    const firstOfKey = new Map<string, number>();
    for (const [index, key] of keys.entries()) {
      const first = firstOfKey.get(key);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', message: `key ${index + 1} repeats key ${first + 1}` });
        return z.NEVER;
      }
      firstOfKey.set(key, index);
    }
    return keys;
  });

/** `key:stream,stream;key2:*` → write keys; empty → none. */
export const writeKeys = z
  .string()
  .default('')
  .transform((text, ctx): WriteKey[] => {
    const keys: WriteKey[] = [];
    const entryOfKey = new Map<string, number>();
    for (const entry of text.split(';').map((part) => part.trim())) {
      if (entry === '') continue;
      const colon = entry.lastIndexOf(':');
      const key = colon === -1 ? '' : entry.slice(0, colon).trim();
      const streams =
        colon === -1
          ? []
          : entry
              .slice(colon + 1)
              .split(',')
              .map((s) => s.trim());
      // The key itself never appears in a message: configuration errors end up in logs.
      if (key.length < 8 || streams.length === 0 || streams.some((s) => s !== '*' && !isValidStreamName(s))) {
        ctx.addIssue({
          code: 'custom',
          message: `entry ${keys.length + 1} is not "key:stream,stream" or "key:*" (keys are at least 8 characters; streams match ^[a-z0-9][a-z0-9_-]{0,63}$)`,
        });
        return z.NEVER;
      }
      if (notPrintableAscii(key)) {
        ctx.addIssue({ code: 'custom', message: unsendableKeyMessage(`entry ${keys.length + 1}'s key`) });
        return z.NEVER;
      }
      // `k1:web,k2:*`, entries joined by a comma, would read as one key "k1:web,k2" on every
      // stream. A key may hold ":" (the entry is split at its last one; such keys ran before,
      // and work as Bearer keys), never ",", which only that mistake puts in one.
      if (key.includes(',')) {
        ctx.addIssue({
          code: 'custom',
          message: `entry ${keys.length + 1}'s key holds ","; separate entries with ";", as "key:stream,stream;key2:*"`,
        });
        return z.NEVER;
      }
      // A key matches its first entry only: a second one's streams would be refused, unsaid.
      // Looked up, not searched: a key file of 40,000 keys took 26 s to start, searched.
      const earlier = entryOfKey.get(key);
      if (earlier !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `entry ${keys.length + 1} repeats the key of entry ${earlier + 1}; list all of a key's streams in one entry, as "key:stream,stream"`,
        });
        return z.NEVER;
      }
      entryOfKey.set(key, keys.length);
      keys.push({ key, streams: streams.includes('*') ? '*' : new Set(streams) });
    }
    if (holdsNoKey(text, keys.length, ctx, 'holds no key')) return z.NEVER;
    return keys;
  });

/** Which proxies' `X-Forwarded-For` is believed: none, or those at these addresses. */
export type TrustProxy = false | readonly string[];

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * An address, or an address/prefix range: what @fastify/proxy-addr takes (it throws on the rest).
 * Not a prefix of 0, which it throws on too (the ingest exited with a stack trace, a review's
 * run), and which would believe any client, as `true` would.
 */
function isAddressOrRange(entry: string): boolean {
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  // An IPv4-mapped range is read as the IPv4 range 96 bits shorter: `::ffff:0:0/96` is
  // `0.0.0.0/0`, and believed every IPv4 client (a review's run).
  const least = family === 6 && mappedIpv4(address) !== undefined ? 97 : 1;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) >= least && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * `TRUST_PROXY`: unset or `false` believes no proxy (the client address is the TCP peer); a
 * comma-separated list of addresses, CIDR ranges or `loopback`/`linklocal`/`uniquelocal` believes
 * the `X-Forwarded-For` of requests from those proxies only. `true` (believe anyone) and hop
 * counts (which cannot tell a proxy from a client) are refused: a client could pick its address.
 */
export const trustProxy = z
  .string()
  .default('false')
  .transform((text, ctx): TrustProxy => {
    const value = text.trim();
    if (value === 'false') return false;
    const entries = value.split(',').map((entry) => entry.trim());
    if (entries.every((entry) => PROXY_NAMES.has(entry) || isAddressOrRange(entry))) {
      return Object.freeze(entries);
    }
    ctx.addIssue({
      code: 'custom',
      message: `expected false, or the addresses of the proxies in front of the ingest, such as 10.0.0.0/8,loopback; got "${text}"`,
    });
    return z.NEVER;
  });

/**
 * A host name: labels of letters, digits, `-` (not at a label's ends) and `_` (Docker names
 * containers `project_service_1`, and resolves them), dot-separated.
 */
const HOST_NAME = /^(?!-)[a-z0-9_-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$/;

/**
 * HOST: an IP address (`0.0.0.0`, `::`) or a host name. Checked here so that `--check-config`
 * finds a port given with it (`0.0.0.0:8080`) or a stray space, which the start found only as it
 * listened; whether the machine has the address is for the start to find.
 */
export const listenHost = z
  .string()
  .default('0.0.0.0')
  .transform((host, ctx) => {
    if (isIP(host) !== 0 || HOST_NAME.test(normalHostName(host))) return host;
    ctx.addIssue({
      code: 'custom',
      message: `expected an IP address or a host name (the port goes in PORT); got "${host}"`,
    });
    return z.NEVER;
  });

/**
 * `spool-ingest,*.svc.cluster.local` → the names /metrics answers besides IP addresses and
 * localhost (open-host.ts): names, `*.<domain>` for every name under one, or `*` for any.
 */
export const metricsHosts = z
  .string()
  .default('')
  .transform((text, ctx): readonly string[] => {
    const entries = text
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    const none = 'holds no name; leave it unset for IP addresses and localhost only';
    if (holdsNoKey(text, entries.length, ctx, none)) return z.NEVER;
    // Checked before a trailing dot is dropped: `*.` is no `*`.
    const bad = entries.findIndex((entry) => {
      if (entry === '*') return false;
      const name = normalHostName(entry);
      return !HOST_NAME.test(name.startsWith('*.') ? name.slice(2) : name);
    });
    if (bad !== -1) {
      ctx.addIssue({
        code: 'custom',
        message: `entry ${bad + 1} ("${entries[bad]}") is not a host name, "*.<domain>" or "*"`,
      });
      return z.NEVER;
    }
    return Object.freeze(entries.map(normalHostName));
  });

/** Whether `text` is a URL of one of these schemes that names a host. */
function hasHost(text: string, protocols: readonly string[]): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return protocols.includes(url.protocol) && url.hostname !== '';
}

/** What ioredis takes from a REDIS_URL's query as its own options: only the address family is safe. */
const REDIS_URL_QUERY = /^(?:\?family=[046])?$/;

/** Why `text` is no REDIS_URL Spool can use, or undefined when it is one. */
function redisUrlProblem(text: string): string | undefined {
  // ioredis is handed the text as it is: a tab made it a socket path (retried for ever, the
  // password in each error), a space a crash that printed it.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\u0000-\u001f\u007f]/.test(text)) return 'holds a space or a control character';
  if (text.startsWith('/')) {
    return /^[^?]*(?:\?db=\d{1,5})?$/.test(text)
      ? undefined
      : 'a socket path takes no query but ?db=<number>';
  }
  if (!hasHost(text, ['redis:', 'rediss:'])) {
    return 'expected redis://host:port (rediss:// for TLS, redis://user:password@host:port with credentials) or the path of a Unix socket';
  }
  const url = new URL(text);
  // ioredis decodeURIComponent()s both: a bare "%" threw URIError from `new Redis()`, a crash.
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    return 'a "%" in the user name or password must start an escape: write "%" itself as %25';
  }
  // ioredis reads any path as a database number: `/abc` crashed with SELECT NaN.
  if (!/^\/?(?:\d{1,5})?$/.test(url.pathname))
    return 'the path must be a database number, as redis://host:port/2';
  // …and any query as its own options: `?keyPrefix=` broke BullMQ's keys.
  if (!REDIS_URL_QUERY.test(url.search)) return 'the query may only be ?family=0, 4 or 6';
  return undefined;
}

/** REDIS_NAMESPACE (the services) and the CLI's --namespace: a key prefix, and `{<ns>}` of the queue. */
export const redisNamespace = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'expected 1 to 32 of a-z, 0-9, "_" and "-"');

/**
 * `REDIS_URL`: `redis://[user:password@]host[:port][/db][?family=6]`, `rediss://…` for TLS, or
 * the path of a Unix socket, trimmed (a Secret written with `echo` ends in a newline). Anything
 * else ioredis would take for a socket path, or for options of its own. The message never
 * repeats the text: it may hold a password.
 */
export const redisUrl = z
  .string()
  .default('redis://127.0.0.1:6379')
  .transform((text, ctx) => {
    // The scheme in lower case: ioredis turns TLS on only for a URL that starts with "rediss://",
    // case-sensitively, where the URL parser (and the log) took REDISS:// for TLS.
    const trimmed = text.trim().replace(/^rediss?:/i, (scheme) => scheme.toLowerCase());
    const problem = redisUrlProblem(trimmed);
    if (!problem) return trimmed;
    ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  });

/**
 * `S3_REGION` (and `AWS_REGION`): one host name label, as the AWS SDK checks it at the first
 * request. Before, `eu west 1` or a trailing space started a ready flusher whose every flush
 * failed ("Region not accepted"), retried for good.
 */
export const s3Region = z
  .string()
  .regex(
    /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/,
    'expected a region such as eu-west-1: 1 to 63 of A-Z, a-z, 0-9 and "-", not starting or ending with "-"',
  );

/** `S3_ENDPOINT`: an http:// or https:// URL; without the scheme every upload fails. */
export const httpUrl = z
  .string()
  .refine(
    (text) => hasHost(text, ['http:', 'https:']),
    'expected an http:// or https:// URL, such as https://s3.example.com or http://127.0.0.1:9000',
  )
  // The AWS SDK ignores them (the flusher signed with other credentials), and every message that
  // names the endpoint would have printed them.
  .refine((text) => {
    const url = URL.parse(text);
    return url === null || (url.username === '' && url.password === '');
  }, 'no credentials in the URL: they go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');

/**
 * A setting by stream (see per-stream.ts): `value` for every stream, or `stream:value,…` entries
 * with `*:value` for the rest (`fallback` when no `*` is given). `parse` reads one value, or
 * refuses it with undefined; `expected` says what it takes.
 */
function perStream<T>(fallback: string, parse: (text: string) => T | undefined, expected: string) {
  return z
    .string()
    .default(fallback)
    .transform((text, ctx): PerStream<T> => {
      const whole = parse(text.trim());
      if (whole !== undefined) return { default: whole, streams: new Map() };
      let rest = parse(fallback) as T;
      const streams = new Map<string, T>();
      const seen = new Set<string>();
      for (const entry of text.split(',').map((part) => part.trim())) {
        const colon = entry.lastIndexOf(':');
        const name = entry.slice(0, colon).trim();
        const value = colon === -1 ? undefined : parse(entry.slice(colon + 1).trim());
        if (value === undefined || (name !== '*' && !isValidStreamName(name))) {
          ctx.addIssue({
            code: 'custom',
            message: `expected ${expected}, or stream:value entries such as web:…,*:…; got "${entry}"`,
          });
          return z.NEVER;
        }
        // One entry a name: with two, which one holds would be a guess (`web:2,web:3`).
        if (seen.has(name)) {
          ctx.addIssue({ code: 'custom', message: `"${name}" is listed twice; give each stream one entry` });
          return z.NEVER;
        }
        seen.add(name);
        if (name === '*') rest = value;
        else streams.set(name, value);
      }
      return { default: rest, streams };
    });
}

/**
 * `STREAM_SHARDS`: how many sub-buffers a stream is split over. `4` for every stream, or
 * `web:4,clicks:8` for those streams (and `*:2` for the rest); 1 (unsplit) by default.
 */
export const streamShards = perStream(
  '1',
  (text) => {
    const n = Number(text);
    return /^\d+$/.test(text) && n >= 1 && n <= MAX_STREAM_SHARDS ? n : undefined;
  },
  `a number of shards (1 to ${MAX_STREAM_SHARDS})`,
);

/** The formats the flusher writes objects in (docs/output.md). */
export const OUTPUT_FORMATS = ['ndjson.gz', 'ndjson.zst', 'parquet'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `OUTPUT_FORMAT`: `parquet` for every stream, or `web:parquet,*:ndjson.zst`; `ndjson.gz` by default. */
export const outputFormat = perStream<OutputFormat>(
  'ndjson.gz',
  (text) => OUTPUT_FORMATS.find((format) => format === text),
  OUTPUT_FORMATS.join(' or '),
);

/**
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, which the AWS SDK reads itself:
 * checked only for what cannot be a key, never shown. A key with a trailing newline (a Secret
 * written with `echo`) started a flusher that said nothing, and whose every flush failed for good
 * ("Invalid character in header content"), the events held in Redis.
 */
export const awsCredential = z
  .string()
  .regex(
    /^[\x21-\x7e]+$/,
    'expected printable ASCII without spaces (a trailing newline, from `echo` into a Secret?); the value is not shown',
  )
  .optional();
