/** The IPv4 address an IPv4-mapped IPv6 address holds (any notation, a zone too), or undefined. */
export function mappedIpv4(ipv6: string): string | undefined {
  const groups = ipv6Groups(ipv6);
  if (!groups.slice(0, 5).every((group) => group === 0) || groups[5] !== 0xffff) return undefined;
  const [high = 0, low = 0] = groups.slice(6);
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/**
 * The 8 groups of an IPv6 address that isIPv6 takes (any notation: `::`, a dotted IPv4 tail, a
 * zone, which Node takes of any text: ipaddr.js threw on `::ffff:1.2.3.4%-`, in the request log's
 * serializer, and the process exited, a review's run).
 */
export function ipv6Groups(ip: string): number[] {
  // The URL parser writes it canonically: hex groups, at most one `::`, no dotted tail.
  const canonical = new URL(`http://[${ip.split('%')[0]}]`).hostname.slice(1, -1);
  const [head = '', tail] = canonical.split('::');
  const parse = (part: string) =>
    part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16));
  const [before, after] = [parse(head), parse(tail ?? '')];
  return tail === undefined
    ? before
    : [...before, ...Array(8 - before.length - after.length).fill(0), ...after];
}
