import { isIP, isIPv6 } from 'node:net';
import { type LoggedAddress, mappedIpv4 } from '@spool/shared';
import ipaddr from 'ipaddr.js';
import { requestAddress } from '../client-address.js';

export type IpPolicy = 'keep' | 'truncate' | 'drop';

/** The policies from the one that stores the most of an address to the one that stores none. */
const STRICTNESS: readonly IpPolicy[] = ['keep', 'truncate', 'drop'];

/** What Jitsu's `X-IP-Policy` asks for, in IP_POLICY's words (its SDK's `privacy.ipPolicy`). */
const ASKED = new Map<string, IpPolicy>([
  ['keep', 'keep'],
  ['striplastoctet', 'truncate'],
  ['remove', 'drop'],
]);

/**
 * The policy for a request's messages: IP_POLICY, or the stricter one its client asked for in
 * `X-IP-Policy` (Jitsu's SDK sends `stripLastOctet` or `remove` when a site turns its users'
 * addresses off). A client may ask to store less of an address, never more; any other value asks
 * nothing.
 */
export function requestIpPolicy(configured: IpPolicy, asked: string | string[] | undefined): IpPolicy {
  const wanted = typeof asked === 'string' ? ASKED.get(asked.toLowerCase()) : undefined;
  return wanted && STRICTNESS.indexOf(wanted) > STRICTNESS.indexOf(configured) ? wanted : configured;
}

/**
 * An address with its host part zeroed, as analytics tools anonymize: the last octet of an IPv4
 * address, the last 80 bits of an IPv6 one (an IPv4 address written as IPv6 is an IPv4 address).
 * A 6to4 address (2002::/16) carries its site's IPv4 address whole in its first 48 bits: it keeps
 * 40, the IPv4 address's last octet zeroed as the IPv4 address's own would be.
 * Undefined for text that is not an address: it is not stored. Only the standard forms are
 * addresses (Node's `isIP`): ipaddr.js also reads inet_aton's, in which `010.010.010.010` is octal
 * for 8.8.8.8, and it stored 8.8.8.0 for a client that meant 10.10.10.10 (a review's run).
 */
export function truncateIp(text: string): string | undefined {
  if (isIP(text) === 0) return undefined;
  // The zone (`fe80::1%br-lan`) names the sender's interface, not its network, and is not kept;
  // ipaddr.js reads only zones of letters and digits, and threw on others: a 500 for the whole
  // batch, and the ingest's exit from its request log (a review's run).
  const unzoned = text.split('%', 1)[0] as string;
  const plain = isIPv6(unzoned) ? (mappedIpv4(unzoned) ?? unzoned) : unzoned;
  if (!ipaddr.isValid(plain)) return undefined;
  const address = ipaddr.parse(plain);
  const bytes = address.toByteArray();
  const keep = address.kind() === 'ipv4' ? 3 : bytes[0] === 0x20 && bytes[1] === 0x02 ? 5 : 6;
  return ipaddr.fromByteArray(bytes.map((byte, index) => (index < keep ? byte : 0))).toString();
}

/**
 * What the ingest's request log keeps of a client's address: what the request's policy would
 * store of it (IP_POLICY, or the stricter one its X-IP-Policy asks for; none under `drop`), so a
 * log line beside the stored events holds no more of it than they do.
 */
export const loggedAddressUnder =
  (policy: IpPolicy): LoggedAddress =>
  (request) =>
    storedIp(requestAddress(request), requestIpPolicy(policy, request.headers?.['x-ip-policy']));

/** The client IP to store under IP_POLICY, or undefined to store none. */
export function storedIp(ip: unknown, policy: IpPolicy): string | undefined {
  if (typeof ip !== 'string' || ip === '' || policy === 'drop') return undefined;
  return policy === 'keep' ? ip : truncateIp(ip);
}
