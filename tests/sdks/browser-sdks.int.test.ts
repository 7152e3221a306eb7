import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as forward, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import {
  createTestRedis,
  createTestS3,
  flusherTestEnv,
  ingestTestEnv,
  listObjectKeys,
  makeTestCertificates,
  randomName,
  readSpoolObject,
  type ServiceProcess,
  SPOOL_MAINS,
  spawnService,
  TcpProxy,
  testServices,
  waitFor,
  waitUntilLanded,
} from '@spool/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';

/**
 * Segment's analytics.js (@segment/analytics-next), RudderStack's JavaScript SDK
 * (@rudderstack/analytics-js) and Jitsu's snippet (@jitsu/js, served by Spool), unchanged, in
 * headless Chromium (Debian's), in a page served from
 * another origin than Spool's: track, page and identify, and what they send as the page unloads.
 * Nothing is fetched from any vendor: analytics.js reads its settings from Spool (its cdnURL),
 * RudderStack its source config (configUrl), and the page loads each SDK's own build from the
 * npm package (RudderStack's "bundled" one, which carries its plugins).
 */
// From this package's node_modules: the packages' export maps do not list their browser builds.
const installed = (path: string) => fileURLToPath(new URL(`./node_modules/${path}`, import.meta.url));
const SDK_FILES = {
  '/vendor/analytics-next.js': installed('@segment/analytics-next/dist/umd/index.js'),
  '/vendor/rudder-analytics.js': installed('@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js'),
};
const CHROMIUM = process.env.SPOOL_CHROMIUM ?? '/usr/bin/chromium';

const services = testServices();
const NS = randomName('ns');
const STREAM = randomName('web');
const KEY = `web-key-${randomName('k')}`;
/** Jitsu's keys are `id:secret` (its SDK refuses others); WRITE_KEYS splits an entry at its last ':'. */
const JITSU_KEY = `${randomName('jitsu')}:secret-${randomName('s')}`;
const prefix = `${randomName('browser')}/`;
const redis = createTestRedis();
const s3 = createTestS3();
let ingest: ServiceProcess;
/** The same key and stream behind a rate limit of 2 requests a minute: its bucket is used up. */
let limited: ServiceProcess;
let flusher: ServiceProcess;
/** In front of `ingest`, for the `/lossy/` pages: loses the answers it is told to. */
let lossy: TcpProxy;
let site: Server;
let siteUrl: string;
/**
 * A shop's own site over https (`shop.test`, which Chromium resolves to 127.0.0.1), with TLS
 * ending there: it passes `/v1/*` on to Spool over http, its Host kept (docs/sdks.md), as nginx
 * or a cloud load balancer in front of Spool does. Its pages send no Referer.
 */
let shop: Server;
let shopUrl: string;
const certificates = mkdtempSync(join(tmpdir(), 'spool-shop-tls-'));
let browser: Browser;

/** The pages: each loads one SDK pointed at Spool; `run` is what the test calls in it. */
function pages(spool: string): Record<string, string> {
  const segment = (options: object) => `<!doctype html><title>segment</title>
<script src="/vendor/analytics-next.js"></script>
<script>
  window.analytics = window.AnalyticsNext.AnalyticsBrowser.load(
    { writeKey: ${JSON.stringify(KEY)}, cdnURL: ${JSON.stringify(spool)} },
    ${JSON.stringify(options)},
  );
</script>`;
  const rudder = (options: object) => `<!doctype html><title>rudder</title>
<script src="/vendor/rudder-analytics.js"></script>
<script>
  window.analytics = new window.rudderanalytics.RudderAnalytics();
  window.analytics.load(${JSON.stringify(KEY)}, ${JSON.stringify(spool)}, ${JSON.stringify({
    configUrl: spool,
    polyfillIfRequired: false,
    ...options,
  })});
</script>`;
  return {
    '/segment.html': segment({}),
    // Events wait in a batch until the page unloads, then go out as it does.
    '/segment-batching.html': segment({
      integrations: {
        'Segment.io': { deliveryStrategy: { strategy: 'batching', config: { size: 100, timeout: 600_000 } } },
      },
    }),
    // analytics.js's delivery option sending cookies along: the browser then refuses an answer
    // that allows any origin (`*`), so Spool names the page's origin back.
    '/segment-credentials.html': segment({
      integrations: { 'Segment.io': { deliveryStrategy: { config: { credentials: 'include' } } } },
    }),
    '/rudder.html': rudder({}),
    // Its own batching: a batch is cut at 512 KiB (counted in characters), or after 1 s.
    '/rudder-batching.html': rudder({ queueOptions: { batch: { enabled: true, flushInterval: 1_000 } } }),
    // Events go by navigator.sendBeacon, flushed as the page unloads.
    '/rudder-beacon.html': rudder({ useBeacon: true }),
    // Jitsu's snippet, from Spool itself (it sends where it was loaded from); it sends a page view on load.
    '/jitsu.html': `<!doctype html><title>jitsu</title>
<script async src="${spool}/p.js" data-write-key=${JSON.stringify(JITSU_KEY)}></script>`,
    '/elsewhere.html': '<!doctype html><title>elsewhere</title>',
  };
}

beforeAll(async () => {
  ingest = await spawnService(
    SPOOL_MAINS.ingest,
    // Debug: its request log shows the routes the SDKs used (at info, only refused requests).
    ingestTestEnv({
      REDIS_NAMESPACE: NS,
      WRITE_KEYS: `${KEY}:${STREAM};${JITSU_KEY}:${STREAM}`,
      LOG_LEVEL: 'debug',
    }),
  );
  limited = await spawnService(
    SPOOL_MAINS.ingest,
    ingestTestEnv({
      REDIS_NAMESPACE: NS,
      WRITE_KEYS: `${KEY}:${STREAM}`,
      RATE_LIMIT_MAX: '2',
      RATE_LIMIT_WINDOW: '60s',
      LOG_LEVEL: 'info',
    }),
  );
  flusher = await spawnService(
    SPOOL_MAINS.flusher,
    flusherTestEnv({ REDIS_NAMESPACE: NS, S3_PREFIX: prefix, FLUSH_INTERVAL: '1s', LOG_LEVEL: 'warn' }),
  );
  // Another origin than Spool's: 127.0.0.1 against localhost, and another port.
  const spool = ingest.url.replace('127.0.0.1', 'localhost');
  const limitedPages = Object.entries(pages(limited.url.replace('127.0.0.1', 'localhost')));
  lossy = await TcpProxy.start('127.0.0.1', Number(new URL(ingest.url).port));
  const lossyPages = Object.entries(pages(lossy.url('http').replace('127.0.0.1', 'localhost')));
  const content = {
    ...pages(spool),
    ...Object.fromEntries(limitedPages.map(([path, page]) => [`/limited${path}`, page])),
    ...Object.fromEntries(lossyPages.map(([path, page]) => [`/lossy${path}`, page])),
  };
  site = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0] as string;
    const file = SDK_FILES[path as keyof typeof SDK_FILES];
    if (file) response.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
    else if (content[path]) response.writeHead(200, { 'content-type': 'text/html' }).end(content[path]);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
  shop = startShop(ingest.url);
  await new Promise<void>((resolve) => shop.listen(0, '127.0.0.1', resolve));
  shopUrl = `https://shop.test:${(shop.address() as { port: number }).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--host-resolver-rules=MAP shop.test 127.0.0.1',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await new Promise((resolve) => shop?.close(resolve));
  rmSync(certificates, { recursive: true, force: true });
  await lossy?.close();
  await Promise.all([ingest?.stop(), limited?.stop(), flusher?.stop()]);
  await redis.quit();
  s3.destroy();
});

/** The shop's https site: its page, analytics.js, and `/v1/*` passed on to `spool` over http. */
function startShop(spool: string): Server {
  const { certFile, keyFile } = makeTestCertificates(certificates, ['DNS:shop.test']);
  const page = (cdnURL: string) => `<!doctype html><title>shop</title>
<script src="/vendor/analytics-next.js"></script>
<script>
  window.analytics = window.AnalyticsNext.AnalyticsBrowser.load({
    writeKey: ${JSON.stringify(KEY)},
    cdnURL: ${cdnURL},
  });
</script>`;
  return createTlsServer(
    { cert: readFileSync(certFile), key: readFileSync(keyFile) },
    (request, response) => {
      const path = (request.url ?? '/').split('?')[0] as string;
      if (path.startsWith('/v1/')) {
        const upstream = forward(
          `${spool}${request.url}`,
          { method: request.method, headers: request.headers },
          (answer) => {
            response.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(response);
          },
        );
        upstream.on('error', () => response.writeHead(502).end());
        request.pipe(upstream);
      } else if (path === '/vendor/analytics-next.js') {
        response
          .writeHead(200, { 'content-type': 'text/javascript' })
          .end(readFileSync(SDK_FILES['/vendor/analytics-next.js']));
      } else if (path === '/shop.html') {
        response
          .writeHead(200, { 'content-type': 'text/html', 'referrer-policy': 'no-referrer' })
          .end(page('location.origin'));
      } else if (path === '/shop-to-local-spool.html') {
        // Spool itself, over http on a loopback host, as `make dev` runs it.
        const local = JSON.stringify(spool.replace('127.0.0.1', 'localhost'));
        response.writeHead(200, { 'content-type': 'text/html' }).end(page(local));
      } else response.writeHead(404).end();
    },
  );
}

/** What the tests call of either SDK in the page. */
interface Sdk {
  identify(userId: string, traits?: object): unknown;
  track(event: string, properties?: object): unknown;
  page(...args: unknown[]): unknown;
  /** analytics.js only: RudderStack's JavaScript SDK has no screen call. */
  screen(name: string, properties?: object): unknown;
  group(groupId: string, traits?: object): unknown;
  alias(userId: string, previousId: string): unknown;
  ready(callback: (value?: unknown) => void): unknown;
}

/** A fresh browser context on a page; every request it makes is recorded. */
async function open(path: string): Promise<{ page: Page; requests: string[]; close(): Promise<void> }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const requests: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(`${siteUrl}${path}`);
  return { page, requests, close: () => context.close() };
}

/** What landed for `userId` (or anonymously in the same test), by message type. */
async function landedFor(marker: string, expected: number): Promise<Array<Record<string, unknown>>> {
  const mine = async () => {
    await waitUntilLanded(redis, [STREAM], { namespace: NS, timeoutMs: 30_000 });
    const messages: Array<Record<string, unknown>> = [];
    for (const key of await listObjectKeys(s3, services.s3.bucket, `${prefix}stream=${STREAM}/`)) {
      const object = await readSpoolObject(s3, services.s3.bucket, key);
      for (const line of object.lines) {
        const message = JSON.parse(line) as Record<string, unknown>;
        if (JSON.stringify(message).includes(marker)) messages.push(message);
      }
    }
    return messages.length >= expected ? messages : undefined;
  };
  return waitFor(mine, 30_000, `${expected} messages marked ${marker} to land`);
}

/** Tracks 'Left Page' on `path` once its SDK is ready, leaves the page, and waits for it to land. */
async function trackAndLeave(path: string): Promise<Array<Record<string, unknown>>> {
  const marker = randomName('left');
  const { page, close } = await open(path);
  await page.evaluate(async (m) => {
    const analytics = (window as unknown as { analytics: Sdk }).analytics;
    await new Promise((resolve) => analytics.ready(resolve));
    analytics.track('Left Page', { marker: m });
  }, marker);
  await page.goto(`${siteUrl}/elsewhere.html`);
  const messages = await landedFor(marker, 1);
  await close();
  return messages;
}

const onlyLocal = (requests: string[]) =>
  requests.filter(
    (url) =>
      !url.startsWith(siteUrl) &&
      !url.startsWith(ingest.url.replace('127.0.0.1', 'localhost')) &&
      !url.startsWith(limited.url.replace('127.0.0.1', 'localhost')),
  );

const duplicates = async () => Number((await redis.hget(streamKeys(STREAM, NS).stats, 'duplicates')) ?? 0);

/**
 * Tracks one event on `path` (a `/lossy/` page) while the answer to the request that carries it
 * is lost after Spool stored it: the SDK sends it again from its retry queue, with the same
 * messageId, and Spool finds the resend a duplicate. Resolves with every copy that landed.
 */
async function trackWithAnswerLost(path: string): Promise<Array<Record<string, unknown>>> {
  const marker = randomName('lost');
  const before = await duplicates();
  const lost = lossy.lostReplies;
  lossy.loseReplyTo(marker);
  const { page, close } = await open(path);
  try {
    await page.evaluate(async (m) => {
      const analytics = (window as unknown as { analytics: Sdk }).analytics;
      await new Promise((resolve) => analytics.ready(resolve));
      analytics.track('Answer Lost', { marker: m });
    }, marker);
    // The resend reached Spool (the page stays open meanwhile: its retry queue runs in it).
    await waitFor(async () => (await duplicates()) > before || undefined, 30_000, 'the resend');
  } finally {
    await close();
    lossy.restore();
  }
  expect(lossy.lostReplies).toBe(lost + 1);
  return landedFor(marker, 1);
}

describe('@segment/analytics-next in Chromium', () => {
  it('sends every call type to Spool, settings and all, and nothing to any vendor', async () => {
    const marker = randomName('seg');
    const { page, requests, close } = await open('/segment.html');
    await page.evaluate(async (m) => {
      const analytics = (window as unknown as { analytics: Sdk }).analytics;
      await analytics.identify(`user-${m}`, { plan: 'pro' });
      await analytics.track('Clicked Buy', { marker: m, price: 10 });
      await analytics.page('Pricing', { marker: m });
      await analytics.screen('Home', { marker: m });
      await analytics.group(`group-${m}`, { name: 'Acme' });
      await analytics.alias(`user-${m}`, `before-${m}`);
    }, marker);
    const messages = await landedFor(marker, 6);
    await close();
    expect(messages).toHaveLength(6);

    const byType = Object.fromEntries(messages.map((m) => [m.type, m]));
    expect(byType.identify).toMatchObject({ userId: `user-${marker}`, traits: { plan: 'pro' } });
    expect(byType.track).toMatchObject({
      event: 'Clicked Buy',
      properties: { marker, price: 10 },
      userId: `user-${marker}`,
    });
    expect(byType.page).toMatchObject({ name: 'Pricing' });
    expect(byType.screen).toMatchObject({ name: 'Home', properties: { marker } });
    expect(byType.group).toMatchObject({ groupId: `group-${marker}`, traits: { name: 'Acme' } });
    expect(byType.alias).toMatchObject({ userId: `user-${marker}`, previousId: `before-${marker}` });
    for (const message of messages) {
      expect(message).toMatchObject({
        messageId: expect.stringMatching(/^ajs-next-/),
        anonymousId: expect.any(String),
        context: {
          library: { name: 'analytics.js' },
          page: { url: expect.stringContaining(siteUrl) },
          ip: '127.0.0.1',
        },
        sentAt: expect.any(String),
        receivedAt: expect.any(String),
      });
      expect(message).not.toHaveProperty('writeKey');
    }
    expect(requests.some((url) => url.endsWith(`/v1/projects/${KEY}/settings`))).toBe(true);
    expect(onlyLocal(requests)).toEqual([]);
  });

  it('sends what it batched as the page unloads', async () => {
    const marker = randomName('segunload');
    const { page, close } = await open('/segment-batching.html');
    await page.evaluate(async (m) => {
      const analytics = (window as unknown as { analytics: Sdk }).analytics;
      // Loaded: events of an SDK still loading are kept for the next page that loads it.
      await new Promise((resolve) => analytics.ready(resolve));
      // Each settles once its event waits in the batch (the batching dispatcher answers at once);
      // leaving earlier could leave before an event has gone through the SDK's plugins.
      await analytics.track('Left Page', { marker: m });
      await analytics.track('Left Page Again', { marker: m });
    }, marker);
    await page.goto(`${siteUrl}/elsewhere.html`);
    const messages = await landedFor(marker, 2);
    await close();
    expect(messages.map((m) => m.event).sort()).toEqual(['Left Page', 'Left Page Again']);
  });

  it('sends an event again when the answer is lost; it lands once', async () => {
    const messages = await trackWithAnswerLost('/lossy/segment.html');
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      event: 'Answer Lost',
      messageId: expect.stringMatching(/^ajs-next-/),
    });
  });
});

describe('pages that send with credentials (cookies), in Chromium', () => {
  it("analytics.js with credentials: 'include' in its delivery", async () => {
    const marker = randomName('segcred');
    const { page, close } = await open('/segment-credentials.html');
    await page.evaluate(async (m) => {
      const analytics = (window as unknown as { analytics: Sdk }).analytics;
      await new Promise((resolve) => analytics.ready(resolve));
      await analytics.track('Sent With Cookies', { marker: m });
    }, marker);
    const messages = await landedFor(marker, 1);
    await close();
    expect(messages[0]).toMatchObject({ event: 'Sent With Cookies', properties: { marker } });
  });

  it('a sendBeacon of a JSON Blob, to /v1/batch and to the beacon route', async () => {
    // A Blob whose type is no form's is sent with a preflight and with credentials: `*` lost it.
    const marker = randomName('blob');
    const spool = ingest.url.replace('127.0.0.1', 'localhost');
    const { page, close } = await open('/elsewhere.html');
    const queued = await page.evaluate(
      ({ m, key, url }) => {
        const batch = (event: string) =>
          new Blob(
            [
              JSON.stringify({
                writeKey: key,
                batch: [{ type: 'track', event, userId: m, properties: { marker: m } }],
              }),
            ],
            {
              type: 'application/json',
            },
          );
        return [
          navigator.sendBeacon(`${url}/v1/batch`, batch('Blob To Batch')),
          navigator.sendBeacon(
            `${url}/beacon/v1/batch?writeKey=${encodeURIComponent(key)}`,
            batch('Blob To Beacon'),
          ),
        ];
      },
      { m: marker, key: KEY, url: spool },
    );
    expect(queued).toEqual([true, true]);
    const messages = await landedFor(marker, 2);
    await close();
    expect(messages.map((m) => m.event).sort()).toEqual(['Blob To Batch', 'Blob To Beacon']);
  });
});

describe('@segment/analytics-next in Chromium on an https page, TLS ending at a proxy in front of Spool', () => {
  /**
   * Tracks `event` with a new marker on the shop's page `path`, and waits for it to land; what the
   * page sent, and what failed. The certificate is the test's own: the browser is told to take it.
   */
  async function trackOnShop(path: string, event: string) {
    const marker = randomName('shop');
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const sent: string[] = [];
    const failed: string[] = [];
    page.on('request', (request) => sent.push(request.url()));
    page.on('requestfailed', (request) => failed.push(`${request.url()} ${request.failure()?.errorText}`));
    await page.goto(`${shopUrl}${path}`);
    await page.evaluate(
      async ({ m, name }) => {
        const analytics = (window as unknown as { analytics: Sdk }).analytics;
        await new Promise((resolve) => analytics.ready(resolve));
        await analytics.track(name, { marker: m });
      },
      { m: marker, name: event },
    );
    const messages = await landedFor(marker, 1);
    await context.close();
    expect(messages[0]).toMatchObject({ event, properties: { marker } });
    return { sent, failed };
  }

  it('is told to send over https, though Spool saw http and the page sent no Referer', async () => {
    const { sent, failed } = await trackOnShop('/shop.html', 'Checked Out');
    // Sent to the page's host over https: over http the browser blocks it as mixed content.
    expect(sent).toContain(`${shopUrl}/v1/t`);
    expect(sent.filter((url) => url.startsWith('http:'))).toEqual([]);
    expect(failed).toEqual([]);
  });

  it('sends to a Spool on a loopback host over http, as browsers allow, from an https page', async () => {
    // Told https, analytics.js failed every send to `make dev`'s http://localhost (a review's run).
    const { sent, failed } = await trackOnShop('/shop-to-local-spool.html', 'Checked Out Locally');
    expect(sent.some((url) => /^http:\/\/localhost:\d+\/v1\/t$/.test(url))).toBe(true);
    expect(failed).toEqual([]);
  });
});

describe('@rudderstack/analytics-js in Chromium', () => {
  it('sends every call type it has to Spool, source config and all, and nothing to any vendor', async () => {
    const marker = randomName('rs');
    const { page, requests, close } = await open('/rudder.html');
    await page.evaluate((m) => {
      const analytics = (window as unknown as { analytics: Sdk }).analytics;
      analytics.identify(`user-${m}`, { plan: 'pro' });
      analytics.track('Clicked Buy', { marker: m, price: 10 });
      analytics.page('Shop', 'Pricing', { marker: m });
      analytics.group(`group-${m}`, { name: 'Acme' });
      analytics.alias(`user-${m}`, `before-${m}`);
    }, marker);
    const messages = await landedFor(marker, 5);
    await close();
    expect(messages).toHaveLength(5);

    const byType = Object.fromEntries(messages.map((m) => [m.type, m]));
    expect(byType.identify).toMatchObject({ userId: `user-${marker}` });
    expect(byType.track).toMatchObject({ event: 'Clicked Buy', properties: { marker, price: 10 } });
    expect(byType.page).toMatchObject({ name: 'Pricing' });
    expect(byType.group).toMatchObject({ groupId: `group-${marker}`, traits: { name: 'Acme' } });
    expect(byType.alias).toMatchObject({ userId: `user-${marker}`, previousId: `before-${marker}` });
    for (const message of messages) {
      expect(message).toMatchObject({
        messageId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        anonymousId: expect.any(String),
        channel: 'web',
        context: { library: { name: 'RudderLabs JavaScript SDK' }, ip: '127.0.0.1' },
        originalTimestamp: expect.any(String),
        receivedAt: expect.any(String),
      });
    }
    expect(requests.some((url) => url.includes('/sourceConfig'))).toBe(true);
    expect(onlyLocal(requests)).toEqual([]);
  });

  it('sends its own batches, up to 512 KiB (in characters), and every event lands once', async () => {
    // 60 events of some 10 KB: the SDK cuts a batch of about 50 at its 512 KiB, past Segment's
    // 500 KB; the rest go a second later. A refused batch (400) the SDK drops for good.
    const marker = randomName('rsbatch');
    const { page, close } = await open('/rudder-batching.html');
    await page.evaluate((m) => {
      const analytics = (window as unknown as { analytics: Sdk }).analytics;
      for (let i = 0; i < 60; i += 1) analytics.track(`Viewed ${i}`, { marker: m, pad: 'x'.repeat(10_000) });
    }, marker);
    const messages = await landedFor(marker, 60);
    await close();
    expect(messages).toHaveLength(60);
    expect(new Set(messages.map((m) => m.messageId)).size).toBe(60);
  });

  it('sends a beacon to /beacon/v1/batch as the page unloads', async () => {
    // An unloading page's beacon is not among the page's requests Playwright reports: the
    // ingest's own log says which route it came by (its key not written, as everywhere). Counted
    // before and after: an earlier test's beacon wrote the same line.
    const beaconPosts = () =>
      ingest.output().split('"method":"POST","url":"/beacon/v1/batch?writeKey=[redacted]"').length - 1;
    const before = beaconPosts();
    const messages = await trackAndLeave('/rudder-beacon.html');
    expect(messages[0]).toMatchObject({ event: 'Left Page', type: 'track' });
    expect(beaconPosts()).toBe(before + 1);
  });

  it('sends an event again when the answer is lost; it lands once', async () => {
    const messages = await trackWithAnswerLost('/lossy/rudder.html');
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      event: 'Answer Lost',
      messageId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
  });
});

describe("@jitsu/js's snippet in Chromium", () => {
  it('loads from Spool, sends a page view and every call, and nothing to any vendor', async () => {
    const marker = randomName('jitsu');
    const { page, requests, close } = await open('/jitsu.html');
    await page.waitForFunction(() => 'jitsu' in window);
    await page.evaluate(async (m) => {
      const jitsu = (window as unknown as { jitsu: Sdk }).jitsu;
      await jitsu.identify(`user-${m}`, { plan: 'pro' });
      await jitsu.track('Clicked Buy', { price: 10 });
      await jitsu.page({ section: 'pricing' });
      await jitsu.group(`group-${m}`, { name: 'Acme' });
    }, marker);
    // The calls after the identify carry its user; every message of the page carries the page's
    // anonymousId, the snippet's own page view on load included (sent before the identify or
    // after it: the SDK builds it once it has initialized).
    const identified = await landedFor(marker, 4);
    const anonymousId = identified[0]?.anonymousId as string;
    const all = await landedFor(anonymousId, 5);
    await close();
    expect(all).toHaveLength(5);
    const onLoad = all.find(
      (m) => m.type === 'page' && !(m.properties as { section?: string } | undefined)?.section,
    );
    const byType = Object.fromEntries(all.filter((m) => m !== onLoad).map((m) => [m.type, m]));
    expect(Object.keys(byType).sort()).toEqual(['group', 'identify', 'page', 'track']);
    expect(byType.identify).toMatchObject({ userId: `user-${marker}`, traits: { plan: 'pro' } });
    expect(byType.track).toMatchObject({ event: 'Clicked Buy', properties: { price: 10 } });
    expect(byType.page).toMatchObject({ properties: { section: 'pricing' } });
    expect(byType.group).toMatchObject({ groupId: `group-${marker}`, traits: { name: 'Acme' } });
    expect(onLoad).toMatchObject({ type: 'page', context: { page: { title: 'jitsu' } } });
    for (const message of all) {
      expect(message).toMatchObject({
        anonymousId,
        messageId: expect.any(String),
        context: { library: { name: '@jitsu/js', env: 'browser' }, ip: '127.0.0.1' },
        receivedAt: expect.any(String),
      });
      expect(message).not.toHaveProperty('writeKey');
    }
    expect(requests.some((url) => url.endsWith('/p.js'))).toBe(true);
    expect(onlyLocal(requests)).toEqual([]);
  });
});

describe("both SDKs in Chromium once the key's rate-limit bucket is used up", () => {
  it('load their settings, and the beacon sent as the page unloads is stored', async () => {
    const basic = `Basic ${Buffer.from(`${KEY}:`).toString('base64')}`;
    const fill = [];
    for (let i = 0; i < 3; i += 1) {
      const answer = await fetch(`${limited.url}/v1/track`, {
        method: 'POST',
        headers: { authorization: basic, 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'filler', event: 'Fill' }),
      });
      fill.push(answer.status);
    }
    // Every visitor of the site shares the key's bucket, and it is used up for a minute.
    expect(fill).toEqual([200, 200, 429]);

    // analytics.js loads (a 429 on its settings made it give up on the page).
    const segment = await open('/limited/segment.html');
    await segment.page.evaluate(
      () => new Promise((resolve) => (window as unknown as { analytics: Sdk }).analytics.ready(resolve)),
    );
    await segment.close();

    // rudder-analytics-js loads its source config, and its beacon (never retried) is stored.
    const messages = await trackAndLeave('/limited/rudder-beacon.html');
    expect(messages[0]).toMatchObject({ event: 'Left Page', type: 'track' });
  });
});
