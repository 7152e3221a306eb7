import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { acceptsGzip, loggableUrl, presentedKey } from '@spool/shared';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestAsyncHookHandler,
  onRequestHookHandler,
} from 'fastify';
import { append as appendVary } from 'vary';
import { INVALID_WRITE_KEY, queryKey, type WriteKeyVerifier } from '../auth.js';
import { errors } from '../errors.js';

/** When the source config last changed: settings change only with a restart. */
const SOURCE_CONFIG_UPDATED_AT = new Date().toISOString();

export interface SdkConfigRouteOptions {
  keys: WriteKeyVerifier;
  /** The rate limit's onRequest step (it reads `request.auth`), or undefined when there is none. */
  rateLimit: onRequestAsyncHookHandler | undefined;
}

/** How long browsers and CDNs may keep the answers: they change only with the deployment. */
const CACHE_CONTROL = 'public, max-age=300';

/**
 * The host the client asked for: its Host header, never X-Forwarded-Host. A client can send that
 * header through a proxy that passes it on, and with TRUST_PROXY Fastify's `request.host` would
 * believe it: the (cached) settings would send every page's events to the client's host. Proxies
 * in front of Spool pass the public Host on (docs/sdks.md).
 */
function hostAsked(request: FastifyRequest): string {
  // Not `request.host` even without a Host header (HTTP/1.0): it may be X-Forwarded-Host.
  return request.headers.host ?? '';
}

/** What the settings answer depends on, besides its URL: a cache must keep one per value. */
const VARY = ['Host', 'Origin', 'Referer', 'Sec-Fetch-Mode', 'X-Forwarded-Proto'];

/** Hosts a browser counts as secure over http too (a potentially trustworthy URL). */
const LOOPBACK_HOST = /^(localhost|[^:]*\.localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;

/**
 * The scheme analytics.js should send with: https whenever this request reached Spool's host over
 * https, since that host may answer nothing over http (a proxy that ends TLS and has no port 80),
 * and an http page may send over https. Behind a proxy that ends TLS this request arrives as http
 * unless TRUST_PROXY believes the proxy's X-Forwarded-Proto. A loopback host asked over http is
 * sent to over http: browsers let every page, https ones too, send to it (it is not mixed
 * content), and it may answer nothing over https (`make dev`: an https page's sends failed for
 * good, a review's run). To any other host, browsers send Fetch metadata (`Sec-Fetch-Mode`) only
 * over https, so a browser that sent it asked over https. Else https when the page's origin is
 * https (its Origin, or for a same-origin page its Referer): such a page may not send over http.
 */
function sendingProtocol(request: FastifyRequest): 'http' | 'https' {
  if (request.protocol === 'https') return 'https';
  if (LOOPBACK_HOST.test(hostAsked(request))) return 'http';
  if (request.headers['sec-fetch-mode'] !== undefined) return 'https';
  const { origin, referer } = request.headers;
  // A sandboxed page's Origin is `null`: it says nothing of the scheme.
  const page = origin && origin !== 'null' ? origin : referer;
  return page?.toLowerCase().startsWith('https://') ? 'https' : 'http';
}

const SETTINGS = '/settings';

/**
 * Jitsu's browser snippet as its package (@jitsu/js) ships it, for `<script src="https://<spool>/p.js"
 * data-write-key="…">`: it sends to the origin it was loaded from, whatever the page says, so it
 * must come from Spool's host. Read once: it changes only with the deployment.
 */
const JITSU_SNIPPET = readFileSync(createRequire(import.meta.url).resolve('@jitsu/js/dist/web/p.js.txt'));
/**
 * Every page view of a site asks for it (150 KB, 39 KB gzipped): compressed once here, and
 * revalidated by its ETag once the browser's 5 minutes are up. (One file held in memory: a
 * compression or static-files plugin would compress it per request, or want it on disk.)
 */
const JITSU_SNIPPET_GZIP = gzipSync(JITSU_SNIPPET, { level: 9 });
/** A strong validator names the bytes sent: each encoding has its own (RFC 9110, 8.8.3). */
const JITSU_SNIPPET_DIGEST = createHash('sha256').update(JITSU_SNIPPET).digest('base64url').slice(0, 27);
const JITSU_SNIPPET_ETAG = { identity: `"${JITSU_SNIPPET_DIGEST}"`, gzip: `"${JITSU_SNIPPET_DIGEST}-gzip"` };

/** Whether an If-None-Match header names `etag` (weakly compared, as RFC 9110 says for GET), or is `*`. */
function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}

/** The write key of analytics.js's settings path, `/v1/projects/<key>/settings`; undefined for another path there. */
function settingsKey(request: FastifyRequest): string | undefined {
  const rest = (request.params as { '*': string })['*'];
  return rest.endsWith(SETTINGS) && rest.length > SETTINGS.length
    ? rest.slice(0, -SETTINGS.length)
    : undefined;
}

/** Adds `names` to the answer's Vary header, keeping what is there (CORS adds Origin). */
function vary(reply: FastifyReply, names: readonly string[]): FastifyReply {
  return reply.header('vary', appendVary(String(reply.getHeader('vary') ?? ''), [...names]));
}

/**
 * What the browser SDKs fetch before they send, served by Spool so a page needs no vendor's
 * service (docs/sdks.md): analytics.js's project settings, RudderStack's source config, and
 * Jitsu's snippet (it holds no key, and is never refused: the page would send nothing). The first
 * two point the SDK at the host the page asked, and turn every destination and the SDKs' own
 * metrics off. An unknown write key is refused as on the tracking routes, after the rate limit
 * counted it against the client's address: these answers say whether a key is valid, so
 * guessing keys here is limited like anywhere else. A valid key's requests are not counted.
 */
export async function sdkConfigRoutes(app: FastifyInstance, options: SdkConfigRouteOptions): Promise<void> {
  /** Checks the key `keyOf` finds in the request; refused after the rate limit, not before. */
  const checkedBy = (keyOf: (request: FastifyRequest) => string | undefined) => {
    const authenticate: onRequestHookHandler = (request, _reply, done) => {
      const key = options.keys.open ? undefined : keyOf(request);
      const verified = key === undefined ? undefined : options.keys.verify(key);
      request.auth = options.keys.open
        ? { ok: true }
        : verified
          ? { ok: true, identity: verified.identity }
          : {
              ok: false,
              status: 401,
              reason: key ? INVALID_WRITE_KEY : 'A write key is required',
            };
      done();
    };
    const refuse: onRequestHookHandler = (request, _reply, done) => {
      if (request.auth && !request.auth.ok) done(new errors.SPOOL_UNAUTHORIZED(request.auth.reason));
      else done();
    };
    // Only a wrong key is counted. A browser key is shared by every visitor of a site, and a 429
    // here makes the SDK give up on the page (it loads no settings, so it sends nothing).
    const { rateLimit } = options;
    const countRefused: onRequestAsyncHookHandler | undefined = rateLimit
      ? async function (request, reply) {
          if (request.auth && !request.auth.ok) await rateLimit.call(this, request, reply);
        }
      : undefined;
    return countRefused ? [authenticate, countRefused, refuse] : [authenticate, refuse];
  };

  // analytics.js (@segment/analytics-next): `${cdnURL}/v1/projects/<writeKey>/settings`. It sends
  // to `${protocol}://${apiHost}/<t|p|i|…>`; only the `Segment.io` integration, so it loads no
  // destination code from any CDN. A wildcard, not a `:writeKey` parameter: analytics.js writes the
  // key into the path as it is, and a parameter holds no "/" (base64 keys have them) and at most
  // 100 characters. Another path under /v1/projects/ is not found, before any key is read.
  app.get(
    '/v1/projects/*',
    {
      onRequest: [
        (request, _reply, done) => {
          if (settingsKey(request) === undefined)
            done(new errors.SPOOL_NOT_FOUND(request.method, loggableUrl(request.url.slice(0, 200))));
          else done();
        },
        ...checkedBy(settingsKey),
      ],
    },
    async (request, reply) =>
      vary(reply, VARY)
        .header('cache-control', CACHE_CONTROL)
        .send({
          integrations: {
            'Segment.io': {
              apiKey: settingsKey(request),
              apiHost: `${hostAsked(request)}/v1`,
              protocol: sendingProtocol(request),
            },
          },
          metrics: { sampleRate: 0 },
        }),
  );

  app.get('/p.js', async (request, reply) => {
    const gzip = acceptsGzip(request.headers['accept-encoding']);
    const etag = gzip ? JITSU_SNIPPET_ETAG.gzip : JITSU_SNIPPET_ETAG.identity;
    vary(reply, ['Accept-Encoding'])
      .header('cache-control', CACHE_CONTROL)
      .header('etag', etag)
      .type('text/javascript; charset=utf-8');
    if (gzip) reply.header('content-encoding', 'gzip');
    if (matchesEtag(request.headers['if-none-match'], etag)) return reply.code(304).send();
    return reply.send(gzip ? JITSU_SNIPPET_GZIP : JITSU_SNIPPET);
  });

  // rudder-analytics-js (@rudderstack/analytics-js): `${configUrl}/sourceConfig/?writeKey=…`, with the
  // key as Basic user name too. No destinations: events go to its dataPlaneUrl only.
  // The SDK asks for `/sourceConfig/`, with its slash.
  const sourceKey = (request: FastifyRequest) =>
    presentedKey(request.headers.authorization) ?? queryKey(request.url);
  for (const url of ['/sourceConfig', '/sourceConfig/']) {
    app.get(url, { onRequest: checkedBy(sourceKey) }, async (request: FastifyRequest, reply) => {
      const identity = request.auth?.ok ? request.auth.identity : undefined;
      const id = identity ? identity.replace('key:', 'spool-') : 'spool';
      // The mobile SDKs' URL is the same for every app (`?p=android&v=…`), the key only in the
      // header: a shared cache keyed by the URL alone would hand one app's key (and a 200) to any.
      return vary(reply, ['Authorization'])
        .header('cache-control', CACHE_CONTROL)
        .send({
          source: {
            id,
            name: 'Spool',
            writeKey: sourceKey(request) ?? '',
            // rudder-sdk-kotlin's and rudder-sdk-swift's decoders require these fields (without
            // them each launch logged a decoding error and no config reached their plugins);
            // the SDKs' own error and metrics reports to RudderStack stay off.
            workspaceId: 'spool',
            updatedAt: SOURCE_CONFIG_UPDATED_AT,
            config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } },
            destinations: [],
            enabled: true,
          },
        });
    });
  }
}
