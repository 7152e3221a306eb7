import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

const BRACKETED = /^\[([^\]]+)\](?::\d+)?$/;
const IPV4_WITH_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/;

/**
 * The client's address as the rate limit and `context.ip` read it: the socket's, or (through
 * TRUST_PROXY) the nearest untrusted one in X-Forwarded-For, without the port some proxies write
 * there (`203.0.113.5:40001`, `[2001:db8::7]:443`; Azure Application Gateway does). With the port
 * kept, each of a client's connections counted as a client of its own, and `context.ip` held text
 * that IP_POLICY=truncate could not read. An IPv4 address written as IPv6 is the IPv4 address.
 * Text that is no address stays as it is.
 */
export function clientAddress(ip: string): string {
  if (isIP(ip)) return unmapped(ip);
  const address = BRACKETED.exec(ip)?.[1] ?? IPV4_WITH_PORT.exec(ip)?.[1];
  return address !== undefined && isIP(address) ? unmapped(address) : ip;
}

/** What every IPv4-mapped address holds, however written, and no IPv4 one: the others are not parsed. */
const MAPPED = /ffff:/i;

/**
 * An IPv4 address as IPv4: a socket of a dual-stack listener (`HOST=::`) has an IPv4 client's
 * address as `::ffff:203.0.113.5`, which IP_POLICY=keep stored in `context.ip` so, and truncate
 * as `203.0.113.0` (a review's run).
 */
function unmapped(address: string): string {
  // Node's isIP takes any zone after `%`, ipaddr.js letters and digits only: `::ffff:1.2.3.4%-`
  // from X-Forwarded-For threw in the request log's serializer, and the process exited (a review's
  // run). Such an address is left as it came.
  if (!MAPPED.test(address) || !ipaddr.IPv6.isValid(address)) return address;
  const parsed = ipaddr.IPv6.parse(address);
  return parsed.isIPv4MappedAddress() ? parsed.toIPv4Address().toString() : address;
}

const addresses = new WeakMap<object, string>();

/**
 * `clientAddress` of a request, worked out once for it. With TRUST_PROXY, Fastify's `request.ip`
 * parses the whole X-Forwarded-For header on every read, and a request's address is read by the
 * in-flight bound, the rate limit, the tracking API and the request log: a client sending a
 * header of 800 hops made each of its requests cost 2.5 times as much (docs/benchmarks.md).
 */
export function requestAddress(request: { ip: string }): string;
/** A logged request's, which may have none (its socket gone). */
export function requestAddress(request: { ip?: string }): string | undefined;
export function requestAddress(request: { ip?: string }): string | undefined {
  let address = addresses.get(request);
  if (address === undefined) {
    const ip = request.ip; // the getter that parses: read once
    if (ip === undefined) return undefined;
    address = clientAddress(ip);
    addresses.set(request, address);
  }
  return address;
}
