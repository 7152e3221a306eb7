import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { noTotals, type Status } from '@spool/flusher/dist/status/status.js';
import { statusAlerts } from '@spool/flusher/dist/status/status-alerts.js';
import { stateOf } from '@spool/flusher/dist/status/stream-status.js';
import { LocalStack, type ManagedProcess, type LocalStack as Stack } from '@spool/testkit/local-stack';
import { waitFor } from '@spool/testkit/wait';
import { type Browser, chromium, type Page, type Request } from 'playwright-core';

/**
 * The flusher's status page as an operator opens it: headless Chromium (Debian's), the browser's
 * own login (HTTP Basic, the admin key as user name), against a real ingest, flusher, Redis and
 * S3 stand-in, with S3 cut off (a fault proxy) to see a flush get stuck.
 */
const CHROMIUM = process.env.SPOOL_CHROMIUM ?? '/usr/bin/chromium';
const ADMIN_KEY = 'status-admin-key-0123456789';
/** axe-core, injected into the page to check it. */
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
/** Where the screenshot goes (the README shows one taken here). */
const SCREENSHOTS = fileURLToPath(new URL('../../.tools/screenshots/', import.meta.url));

let stack: Stack;
let browser: Browser;
let page: Page;
let ingestUrl: string;
let flusherUrl: string;
let flusherProcess: ManagedProcess;

beforeAll(async () => {
  stack = await LocalStack.start({ faults: true });
  const pipeline = { FLUSH_INTERVAL: '2s', FLUSH_THRESHOLD_BYTES: '1MiB' };
  ingestUrl = (await stack.addIngest(pipeline)).url;
  const flusher = await stack.addFlusher({
    ...pipeline,
    ADMIN_KEYS: ADMIN_KEY,
    FLUSH_RETRY_BASE: '200ms',
    FLUSH_RETRY_MAX: '1s',
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  const context = await browser.newContext({
    httpCredentials: { username: ADMIN_KEY, password: '' },
    viewport: { width: 1400, height: 700 },
  });
  page = await context.newPage();
  flusherUrl = flusher.url;
  flusherProcess = flusher.process;
  await page.goto(`${flusher.url}/status`);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function send(stream: string, events: number): Promise<void> {
  const answer = await fetch(`${ingestUrl}/v1/streams/${stream}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(Array.from({ length: events }, (_, n) => ({ event: 'page', n }))),
  });
  expect(answer.status).toBe(202);
}

/** axe-core's WCAG 2.2 AA and best-practice violations on the page as it is now: rule and elements. */
async function accessibilityViolations(on: Page = page): Promise<Array<{ rule: string; targets: string[] }>> {
  // Run through the DevTools protocol, which the page's CSP does not govern.
  await on.evaluate(readFileSync(AXE, 'utf8'));
  return on.evaluate(async () => {
    const { violations } = await (
      window as unknown as {
        axe: {
          run(
            context: Document,
            options: object,
          ): Promise<{ violations: Array<{ id: string; nodes: Array<{ target: string[] }> }> }>;
        };
      }
    ).axe.run(document, {
      runOnly: {
        type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'],
      },
    });
    return violations.map((violation) => ({
      rule: violation.id,
      targets: violation.nodes.map((node) => node.target.join(' ')),
    }));
  });
}

/** A /status.json answer showing `streams` (each with a stream name; stuck or nearly full if said), for routed readings: typed, so it is one the flusher could send. */
function statusOf(
  streams: Array<{ stream: string; stuck: boolean; nearlyFull?: boolean }>,
  redis: Pick<Status['redis'], 'warnings' | 'notes'> = { warnings: [], notes: [] },
): Status {
  const stuck = streams.filter((row) => row.stuck).length;
  const status: Omit<Status, 'alerts'> = {
    generatedAt: new Date().toISOString(),
    settings: { flushThresholdBytes: 2 ** 20, maxBufferBytes: 2 ** 22, flushIntervalMs: 2_000 },
    totals: {
      ...noTotals(true),
      streams: streams.length,
      stuck,
      nearlyFull: streams.filter((row) => row.nearlyFull).length,
    },
    streams: streams.map(({ stream, stuck, nearlyFull = false }) => ({
      stream,
      stuck,
      nearlyFull,
      state: stateOf({ stuck, nearlyFull }),
      bufferBytes: 10,
      thresholdShare: 0.95,
      maxShare: nearlyFull ? 0.85 : 0.5,
      ageMs: 1_000,
      generation: 1,
      sealedGenerations: 0,
      sealedBytes: 0,
      oldestSealedAgeMs: null,
      accepted: 1,
      landed: 1,
      duplicates: 0,
      rejected: 0,
      quarantineDropped: 0,
      acceptedBytes: 700,
      countersLost: false,
      eventsPerSecond: 0,
      bytesPerSecond: 0,
      lastObject: {
        key: `stream=${stream}/dt=2026-12-07/hour=17/${stream}.ndjson.gz`,
        landedAt: '2026-12-07T17:00:00Z',
      },
    })),
    limit: 50,
    queue: { waiting: 0, active: 0, delayed: 0, failed: 0, prioritized: 0, oldestWaitingAgeMs: null },
    redis: {
      nodes: 1,
      usedMemoryBytes: 1,
      maxMemoryBytes: 0,
      evictionPolicies: ['noeviction'],
      aofEnabled: true,
      ...redis,
    },
    lastFlushError: null,
  };
  return { ...status, alerts: statusAlerts(status) };
}

/** The text of one stream's row's cell (`accepted`, `landed`, …), as the page shows it now. */
function cellText(stream: string, cell: string): Promise<string | null> {
  return page.locator(`tr[data-stream="${stream}"] td.${cell}`).textContent();
}

describe('the status page, in Chromium', () => {
  it('loads its data when the key is typed into the address (http://key@host/status)', async () => {
    const context = await browser.newContext();
    try {
      const typed = await context.newPage();
      const url = new URL(`${flusherUrl}/status`);
      url.username = ADMIN_KEY;
      await typed.goto(url.href);
      await typed.waitForFunction(
        () => document.getElementById('summary')?.textContent?.includes('streams'),
        undefined,
        {
          timeout: 15_000,
        },
      );
      expect(await typed.locator('#connection').textContent()).toBe('');
    } finally {
      await context.close();
    }
  });

  it('renders the streams, and lands them', async () => {
    await send('status-web', 120);
    await send('status-ios', 30);
    await page.locator('tr[data-stream="status-web"]').waitFor({ timeout: 15_000 });
    await page.locator('tr[data-stream="status-ios"]').waitFor({ timeout: 15_000 });
    await page.waitForFunction(
      () => document.querySelector('tr[data-stream="status-web"] td.landed')?.textContent === '120',
      undefined,
      { timeout: 20_000 },
    );
    expect(await cellText('status-web', 'accepted')).toBe('120');
    expect(await page.locator('tr[data-stream="status-web"] td.object').textContent()).toContain(
      'stream=status-web/',
    );
    expect(await page.locator('body').getAttribute('data-state')).toBe('ok');
  });

  it('keeps its rows from one reading to the next: a selection in one survives the redraws', async () => {
    const cell = 'tr[data-stream="status-web"] td.object';
    await page.evaluate((selector) => {
      const node = document.querySelector(selector) as Element & { kept?: boolean };
      node.kept = true;
      getSelection()?.selectAllChildren(node);
    }, cell);
    const selected = await page.evaluate(() => String(getSelection()));
    expect(selected).toContain('stream=status-web/');
    // Two readings later (the page reads every 2 s; each sets the time it is as of).
    for (let reading = 0; reading < 2; reading += 1) {
      const asOf = await page.locator('#generated').textContent();
      await page.waitForFunction(
        (before) => document.getElementById('generated')?.textContent !== before,
        asOf,
        { timeout: 15_000 },
      );
    }
    expect(
      await page.evaluate(
        (selector) => (document.querySelector(selector) as Element & { kept?: boolean }).kept === true,
        cell,
      ),
    ).toBe(true);
    expect(await page.evaluate(() => String(getSelection()))).toBe(selected);
    await page.evaluate(() => getSelection()?.removeAllRanges());
  });

  it('meets WCAG 2.2 AA as axe-core checks it, its alerts and connection state in live regions', async () => {
    expect(await accessibilityViolations()).toEqual([]);
    expect(await page.locator('#alerts').getAttribute('aria-live')).toBe('polite');
    expect(await page.locator('#connection-reason').getAttribute('role')).toBe('status');
    // Each row is named by its stream for a screen reader going down a column.
    expect(await page.locator('tr[data-stream="status-web"] th[scope="row"]').textContent()).toBe(
      'status-web',
    );
  });

  it('keeps a selection when a row above it leaves or moves down, and the name in sight as the table scrolls', async () => {
    // The page's readings, answered here: which streams it shows, in which order.
    let order = ['aaa', 'bbb', 'ccc', 'ddd'];
    let readings = 0;
    const context = await browser.newContext({
      httpCredentials: { username: ADMIN_KEY, password: '' },
      viewport: { width: 390, height: 700 },
    });
    try {
      const phone = await context.newPage();
      await phone.route('**/status.json', async (route) => {
        readings += 1;
        await route.fulfill({ json: statusOf(order.map((stream) => ({ stream, stuck: stream === 'aaa' }))) });
      });
      await phone.goto(`${flusherUrl}/status`);
      const cell = 'tr[data-stream="ccc"] td.object';
      await phone.locator(cell).waitFor({ timeout: 15_000 });
      await phone.evaluate((selector) => {
        const node = document.querySelector(selector) as Element;
        getSelection()?.selectAllChildren(node);
      }, cell);
      const selected = await phone.evaluate(() => String(getSelection()));
      expect(selected).toContain('stream=ccc/');
      // The stuck stream recovers and goes down; then it is forgotten; another goes first.
      for (const next of [
        ['bbb', 'ccc', 'ddd', 'aaa'],
        ['bbb', 'ccc', 'ddd'],
        ['ddd', 'bbb', 'ccc'],
      ]) {
        order = next;
        const seen = readings;
        await phone.waitForFunction(
          (expected) => document.querySelectorAll('#streams tr').length === expected,
          next.length,
        );
        await waitFor(async () => (readings > seen + 1 ? true : undefined), 15_000, 'two more readings');
        expect({ next, selected: await phone.evaluate(() => String(getSelection())) }).toEqual({
          next,
          selected,
        });
      }
      expect(
        await phone
          .locator('#streams tr')
          .evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.stream)),
      ).toEqual(['ddd', 'bbb', 'ccc']);
      // Scrolled sideways to the figures, the name column is still what shows at its place.
      const atName = await phone.evaluate(() => {
        const table = document.querySelector('.table') as HTMLElement;
        const name = document.querySelector('tr[data-stream="ccc"] th') as HTMLElement;
        const box = name.getBoundingClientRect();
        const found: string[] = [];
        for (const share of [0.3, 0.6, 1]) {
          table.scrollLeft = (table.scrollWidth - table.clientWidth) * share;
          found.push(document.elementFromPoint(box.left + 5, box.top + box.height / 2)?.textContent ?? '');
        }
        return found;
      });
      expect(atName).toEqual(['ccc', 'ccc', 'ccc']);
    } finally {
      await context.close();
    }
  });

  it('says which streams are nearly full, in words: their state, an alert naming them, the title', async () => {
    const context = await browser.newContext({ httpCredentials: { username: ADMIN_KEY, password: '' } });
    try {
      const routed = await context.newPage();
      await routed.route('**/status.json', (route) =>
        route.fulfill({
          json: statusOf([
            { stream: 'full-and-stuck', stuck: true, nearlyFull: true },
            { stream: 'full', stuck: false, nearlyFull: true },
            { stream: 'roomy', stuck: false },
          ]),
        }),
      );
      await routed.goto(`${flusherUrl}/status`);
      await routed.locator('tr[data-stream="roomy"]').waitFor({ timeout: 15_000 });
      const state = (stream: string) => routed.locator(`tr[data-stream="${stream}"] td.state`).textContent();
      expect([await state('full-and-stuck'), await state('full'), await state('roomy')]).toEqual([
        'STUCK, NEARLY FULL',
        'NEARLY FULL',
        'ok',
      ]);
      expect(await routed.locator('#alerts li').allTextContents()).toContain(
        '2 stream(s) nearly full: over 80% of MAX_BUFFER_BYTES (4.0 MiB) in Redis; at 100% their writes are refused (503): full-and-stuck, full',
      );
      expect(await routed.title()).toBe('(!) Spool status');
      // Red on the bar of the share of MAX_BUFFER_BYTES of the nearly full alone: a buffer at 95 %
      // of its flush threshold is one about to be flushed, not a problem.
      const hotBars = await routed
        .locator('.bar.hot')
        .evaluateAll((bars) => bars.map((bar) => (bar.closest('tr') as HTMLElement).dataset.stream));
      expect(hotBars).toEqual(['full-and-stuck', 'full']);
      expect(await accessibilityViolations(routed)).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("says Redis's standing settings apart from the alerts, plainly: a managed Redis may never have AOF", async () => {
    const context = await browser.newContext({ httpCredentials: { username: ADMIN_KEY, password: '' } });
    try {
      const routed = await context.newPage();
      let redis = { warnings: [] as string[], notes: ['AOF is off: a restart loses what is not in S3'] };
      await routed.route('**/status.json', (route) =>
        route.fulfill({ json: statusOf([{ stream: 'web', stuck: false }], redis) }),
      );
      await routed.goto(`${flusherUrl}/status`);
      await routed.locator('#notes li').waitFor({ timeout: 15_000 });
      expect(await routed.locator('#notes li').allTextContents()).toEqual([
        'Redis: AOF is off: a restart loses what is not in S3',
      ]);
      expect(await routed.locator('#alerts li').count()).toBe(0);
      expect(await routed.title()).toBe('Spool status');
      expect(await routed.locator('body').getAttribute('data-state')).toBe('ok');
      expect(await accessibilityViolations(routed)).toEqual([]);
      // A warning (what costs data now) is an alert, in red, and in the title.
      redis = { ...redis, warnings: ['maxmemory-policy is allkeys-lru: Redis may evict buffers'] };
      await routed.locator('#alerts li').waitFor({ timeout: 15_000 });
      expect(await routed.locator('#alerts li').allTextContents()).toEqual([
        'Redis: maxmemory-policy is allkeys-lru: Redis may evict buffers',
      ]);
      expect(await routed.locator('#notes li').count()).toBe(1);
      expect(await routed.title()).toBe('(!) Spool status');
    } finally {
      await context.close();
    }
  });

  it('updates itself when events arrive', async () => {
    await send('status-web', 1_000);
    await page.waitForFunction(
      () => document.querySelector('tr[data-stream="status-web"] td.accepted')?.textContent === '1,120',
      undefined,
      { timeout: 15_000 },
    );
  });

  it('shows a flush stuck while S3 is down, and the error', async () => {
    const faults = stack.faults;
    if (!faults) throw new Error('the stack runs no fault proxy');
    faults.s3.fault = 'gone';
    try {
      await send('status-stuck', 50);
      // Twice FLUSH_INTERVAL (4 s) after the first append, its row turns red, first in the table.
      await page.locator('tr.stuck[data-stream="status-stuck"]').waitFor({ timeout: 30_000 });
      await page.waitForFunction(() => document.body.dataset.state === 'attention', undefined, {
        timeout: 10_000,
      });
      // (status-web's last events wait for S3 too.)
      const alerts = await page.locator('#alerts').textContent();
      expect(alerts).toMatch(/\d stream\(s\) stuck: data older than twice FLUSH_INTERVAL/);
      expect(alerts).toMatch(/last flush error, \S+ \(status-(stuck|web)\): /);
      // In words too, not in colour alone: the row's state, and the alert names it.
      expect(await cellText('status-stuck', 'state')).toBe('STUCK');
      expect(alerts).toMatch(/FLUSH_INTERVAL \(4\.0 s\): (\S+, )*status-stuck/);
      expect(await page.title()).toBe('(!) Spool status');
      expect(await accessibilityViolations()).toEqual([]);
      // The stuck rows come first.
      const rows = await page
        .locator('#streams tr')
        .evaluateAll((trs) => trs.map((tr) => tr.classList.contains('stuck')));
      expect(rows).toEqual([...rows].sort((a, b) => Number(b) - Number(a)));
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: `${SCREENSHOTS}status-page.png`, fullPage: true });
    } finally {
      faults.s3.fault = 'none';
    }
    // S3 back: the stuck generation lands, and the page says so.
    await page.waitForFunction(
      () => document.querySelector('tr[data-stream="status-stuck"] td.landed')?.textContent === '50',
      undefined,
      { timeout: 30_000 },
    );
    await page.locator('tr.stuck').waitFor({ state: 'detached', timeout: 10_000 });
  });

  it("shows S3's error message with its controls escaped, so it cannot read as something else", async () => {
    const faults = stack.faults;
    if (!faults) throw new Error('the stack runs no fault proxy');
    // A right-to-left override shows what follows it reversed, a CSI could act on a terminal.
    faults.s3.errorMessage = 'failed \u202Ekcatta\u202C \u009b31m end';
    faults.s3.fault = 'error500';
    try {
      await send('status-bidi', 10);
      await page.waitForFunction(
        () => document.getElementById('alerts')?.textContent?.includes('(status-bidi)'),
        undefined,
        { timeout: 30_000 },
      );
      const alerts = (await page.locator('#alerts').textContent()) ?? '';
      expect(alerts).toContain('failed \\u202ekcatta\\u202c \\u009b31m end');
      expect(alerts).not.toMatch(/[\u202a-\u202e\u009b]/);
    } finally {
      faults.s3.fault = 'none';
      faults.s3.errorMessage = 'injected';
    }
    await page.waitForFunction(
      () => document.querySelector('tr[data-stream="status-bidi"] td.landed')?.textContent === '10',
      undefined,
      { timeout: 30_000 },
    );
  });

  it('opens the flush queue (/queues) with nothing fetched from outside the flusher', async () => {
    const board = await page.context().newPage();
    // What the browser sent elsewhere: finished, or failed for any reason but the page's CSP
    // (Chromium reports a request it blocks by CSP as one that failed before it was sent).
    const elsewhere: string[] = [];
    const outside = (request: Request) => !request.url().startsWith(flusherUrl);
    board.on('requestfinished', (request) => {
      if (outside(request)) elsewhere.push(request.url());
    });
    board.on('requestfailed', (request) => {
      // `csp` (net::ERR_BLOCKED_BY_CSP in some versions): refused by the page's policy.
      if (outside(request) && !/csp/i.test(request.failure()?.errorText ?? '')) {
        elsewhere.push(`${request.url()} (${request.failure()?.errorText})`);
      }
    });
    try {
      await board.goto(`${flusherUrl}/queues`);
      // Rendered: the read-only board lists the flush queue.
      await board.getByText('flush', { exact: true }).first().waitFor({ timeout: 30_000 });
      await board.waitForLoadState('networkidle');
      // Its page links Google's fonts; the CSP keeps the browser from asking for them.
      expect(elsewhere).toEqual([]);
    } finally {
      await board.close();
    }
  });
  it('says when the flusher stops answering, and how old the figures shown are, asking one reading at a time', async () => {
    const reading = (request: Request) => request.url().endsWith('/status.json');
    let inFlight = 0;
    let most = 0;
    const started = (request: Request) => {
      if (!reading(request)) return;
      inFlight += 1;
      most = Math.max(most, inFlight);
    };
    const ended = (request: Request) => {
      if (reading(request)) inFlight -= 1;
    };
    page.on('request', started);
    page.on('requestfinished', ended);
    page.on('requestfailed', ended);
    const connection = () => document.getElementById('connection')?.textContent ?? '';
    // A hung process (or a stalled port-forward): the connection stays open, nothing answers.
    flusherProcess.freeze();
    try {
      await page.waitForFunction(
        () =>
          /did not answer in 10 s \(the figures below are [\d.]+ s old\)/.test(
            document.getElementById('connection')?.textContent ?? '',
          ),
        undefined,
        { timeout: 30_000 },
      );
      expect(most).toBe(1);
    } finally {
      flusherProcess.thaw();
    }
    await page.waitForFunction(
      () => (document.getElementById('connection')?.textContent ?? '') === '',
      undefined,
      { timeout: 30_000 },
    );
    page.off('request', started);
    page.off('requestfinished', ended);
    page.off('requestfailed', ended);
    expect(await page.evaluate(connection)).toBe('');
  });
});
