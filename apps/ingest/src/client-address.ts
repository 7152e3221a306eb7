import { isIP, isIPv6 } from 'node:net';
import proxyAddr from '@fastify/proxy-addr';
import { mappedIpv4 } from '@spool/shared';

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

/**
 * Fastify's `trustProxy` for TRUST_PROXY's list: whether an address (the socket's, or an entry of
 * X-Forwarded-For) is a trusted proxy, read as clientAddress reads it, without a port and IPv4 as
 * IPv4. Given the list itself, Fastify matched each entry as written: a trusted proxy that the next
 * one wrote with its port (`127.0.0.2:40001`) was no address to it, so it was taken for the
 * client, and every client behind it shared one rate-limit bucket and its `context.ip` (a
 * review's run).
 */
export function trustedProxies(list: readonly string[]): (address: string, hop: number) => boolean {
  const trusted = proxyAddr.compile([...list]);
  return (address, hop) => trusted(clientAddress(address), hop);
}

/**
 * An IPv4 address as IPv4: a socket of a dual-stack listener (`HOST=::`) has an IPv4 client's
 * address as `::ffff:203.0.113.5`, which IP_POLICY=keep stored in `context.ip` so, and truncate
 * as `203.0.113.0` (a review's run). An address known good (isIP), with or without a zone.
 */
function unmapped(address: string): string {
  return isIPv6(address) ? (mappedIpv4(address) ?? address) : address;
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
