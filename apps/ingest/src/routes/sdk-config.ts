import { presentedKey } from '@spool/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { VerifiedKey, WriteKeyVerifier } from '../auth.js';
import { errors } from '../errors.js';

export interface SdkConfigRouteOptions {
  keys: WriteKeyVerifier;
}

/** How long browsers and CDNs may keep the answers: they change only with the deployment. */
const CACHE_CONTROL = 'public, max-age=300';

/** What the settings answer depends on, besides its URL: a cache must keep one per value. */
const VARY = ['Host', 'Origin', 'Referer', 'X-Forwarded-Proto'];

/**
 * The scheme analytics.js should send with. A page served over https may not send over http (the
 * browser blocks it as mixed content), and behind a proxy that ends TLS this request arrives as
 * http unless TRUST_PROXY believes the proxy's X-Forwarded-Proto. So: https when the request came
 * over TLS, or from a page of an https origin (its Origin, or for a same-origin page its Referer).
 */
function sendingProtocol(request: FastifyRequest): 'http' | 'https' {
  if (request.protocol === 'https') return 'https';
  const page = request.headers.origin ?? request.headers.referer;
  return typeof page === 'string' && page.toLowerCase().startsWith('https://') ? 'https' : 'http';
}

/** Adds `names` to the answer's Vary header, keeping what is there (CORS adds Origin). */
function vary(reply: FastifyReply, names: readonly string[]): FastifyReply {
  const present = String(reply.getHeader('vary') ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const missing = names.filter((name) => !present.some((had) => had.toLowerCase() === name.toLowerCase()));
  return reply.header('vary', [...present, ...missing].join(', '));
}

/**
 * What the browser SDKs fetch before they send, served by Spool so a page needs no vendor's
 * service (docs/sdks.md): analytics.js's project settings, and RudderStack's source config. Both
 * point the SDK at the host the page asked, and turn every destination and the SDKs' own
 * metrics off. An unknown write key is refused as on the tracking routes.
 */
export async function sdkConfigRoutes(app: FastifyInstance, options: SdkConfigRouteOptions): Promise<void> {
  const known = (key: string | undefined): VerifiedKey | { open: true } => {
    if (options.keys.open) return { open: true };
    const verified = options.keys.verify(key);
    if (!verified) throw new errors.SPOOL_UNAUTHORIZED('The write key is not valid');
    return verified;
  };

  // analytics.js (@segment/analytics-next): `${cdnURL}/v1/projects/<writeKey>/settings`. It sends
  // to `${protocol}://${apiHost}/<t|p|i|…>`; only the `Segment.io` integration, so it loads no
  // destination code from any CDN.
  app.get<{ Params: { writeKey: string } }>('/v1/projects/:writeKey/settings', async (request, reply) => {
    const { writeKey } = request.params;
    known(writeKey);
    return vary(reply, VARY)
      .header('cache-control', CACHE_CONTROL)
      .send({
        integrations: {
          'Segment.io': {
            apiKey: writeKey,
            apiHost: `${request.host}/v1`,
            protocol: sendingProtocol(request),
          },
        },
        metrics: { sampleRate: 0 },
      });
  });

  // rudder-analytics-js (@rudderstack/analytics-js): `${configUrl}/sourceConfig/?writeKey=…`, with the
  // key as Basic user name too. No destinations: events go to its dataPlaneUrl only.
  // The SDK asks for `/sourceConfig/`, with its slash.
  for (const url of ['/sourceConfig', '/sourceConfig/']) {
    app.get(url, async (request: FastifyRequest, reply) => {
      const { writeKey } = request.query as { writeKey?: string };
      const key = presentedKey(request.headers.authorization) ?? writeKey;
      const verified = known(key);
      const id = 'identity' in verified ? verified.identity.replace('key:', 'spool-') : 'spool';
      return reply.header('cache-control', CACHE_CONTROL).send({
        source: { id, name: 'Spool', writeKey: key ?? '', config: {}, destinations: [], enabled: true },
      });
    });
  }
}
