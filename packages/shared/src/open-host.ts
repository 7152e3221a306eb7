import { isIP } from 'node:net';

/**
 * Whether a view with no key of its own (`/metrics`; the admin views without ADMIN_KEYS) may
 * answer a request for `hostname` (the Host header's, port left out): an IP address, `localhost`
 * or a name under it (RFC 6761: browsers never ask DNS for those), or none. A web page can point
 * a name of its own at 127.0.0.1 or at a service inside the network (DNS rebinding) and then read
 * what that name serves as its own origin: an operator's browser would hand any page it visited
 * the streams' names and traffic, the status and the queue's errors. The page cannot choose the
 * Host its requests carry, which is then its own name. Leaving out CORS headers does not help:
 * to the browser, such a page asks its own origin.
 */
export function openHost(hostname: string): boolean {
  if (hostname === '') return true;
  const name = normalHostName(hostname);
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  return isIP(bare) !== 0;
}

/**
 * METRICS_HOSTS' rule: whether `hostname` is one of `names` (`spool-ingest`), under one of the
 * `*.` entries (`*.svc.cluster.local`), or anything (`*`). Names as config-fields' metricsHosts
 * leaves them: lowercase, no trailing dot.
 */
export function namedHostMatcher(names: readonly string[]): (hostname: string) => boolean {
  if (names.includes('*')) return () => true;
  const exact = new Set(names.filter((name) => !name.startsWith('*.')));
  const suffixes = names.filter((name) => name.startsWith('*.')).map((name) => name.slice(1));
  return (hostname) => {
    const name = normalHostName(hostname);
    return exact.has(name) || suffixes.some((suffix) => name.endsWith(suffix));
  };
}

/**
 * The name a request was addressed to: its own `Host` header, port left out (`[::1]:8080` →
 * `[::1]`), or '' without one. Never Fastify's `request.hostname`, which, behind TRUST_PROXY,
 * is `X-Forwarded-Host`: a header a rebinding page may set on its own requests (the Fetch spec
 * forbids `Host`, not that), and did, to read /metrics through an ingest that trusts loopback.
 */
export function addressedHost(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  if (hostHeader.startsWith('[')) {
    const end = hostHeader.indexOf(']');
    return end === -1 ? hostHeader : hostHeader.slice(0, end + 1);
  }
  const colon = hostHeader.indexOf(':');
  return colon === -1 ? hostHeader : hostHeader.slice(0, colon);
}

/** `Example.COM.` and `example.com` are one name. */
export function normalHostName(hostname: string): string {
  return hostname.toLowerCase().replace(/\.$/, '');
}
