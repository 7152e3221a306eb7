import { presentedKey } from '@spool/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { VerifiedKey, WriteKeyVerifier } from '../auth.js';
import { errors } from '../errors.js';

export interface SdkConfigRouteOptions {
  keys: WriteKeyVerifier;
}

/** How long browsers and CDNs may keep the answers: they change only with the deployment. */
const CACHE_CONTROL = 'public, max-age=300';

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
    return reply.header('cache-control', CACHE_CONTROL).send({
      integrations: {
        'Segment.io': { apiKey: writeKey, apiHost: `${request.host}/v1`, protocol: request.protocol },
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
