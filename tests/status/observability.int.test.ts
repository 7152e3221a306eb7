import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { createFlusherMetrics } from '@spool/flusher/dist/metrics.js';
import { NEARLY_FULL_SHARE } from '@spool/flusher/dist/status/stream-status.js';
import { createIngestMetrics } from '@spool/ingest/dist/metrics.js';

/**
 * The alert rules and the Grafana dashboard (deploy/observability): the rules pass promtool's
 * check and its unit tests (alerts.test.yml fires each alert on a broken pipeline and none on a
 * healthy one), and every metric a rule or a panel names is one the ingest or the flusher exports.
 */
const OBSERVABILITY = fileURLToPath(new URL('../../deploy/observability/', import.meta.url));
const PROMTOOL = process.env.SPOOL_PROMTOOL ?? 'promtool';

function promtool(...args: string[]): string {
  return execFileSync(PROMTOOL, args, { cwd: `${OBSERVABILITY}prometheus`, encoding: 'utf8', stdio: 'pipe' });
}

/** Every series name the two processes export (a histogram's _bucket, _sum and _count included). */
async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const registry of [createFlusherMetrics().registry, createIngestMetrics().registry]) {
    for (const metric of await registry.getMetricsAsJSON()) {
      names.add(metric.name);
      if (String(metric.type) === 'histogram') {
        for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
      }
    }
  }
  return names;
}

/** The metric names a PromQL text uses: every `spool_…` identifier. */
const metricsIn = (promql: string) => promql.match(/\bspool_[a-z0-9_]+/g) ?? [];

/** The `outcome` values of spool_ingest_events_total a query filters on (`=` or `=~` with `|`). */
function eventOutcomesIn(promql: string): string[] {
  const matchers = promql.matchAll(/spool_ingest_events_total\{[^}]*\boutcome=~?"([^"]+)"/g);
  return [...matchers].flatMap((match) => (match[1] as string).split('|'));
}

/** The outcomes the ingest counts events under, read from its metrics after one of each. */
async function emittedEventOutcomes(): Promise<Set<string>> {
  const metrics = createIngestMetrics();
  metrics.countEvents('web', { accepted: 1, duplicates: 1, rejected: 1 });
  const events = (await metrics.registry.getMetricsAsJSON()).find(
    (metric) => metric.name === 'spool_ingest_events_total',
  );
  return new Set(events?.values.map((value) => String(value.labels.outcome)));
}

describe('the alert rules', () => {
  it('pass promtool check rules', () => {
    expect(promtool('check', 'rules', 'alerts.yml')).toContain('SUCCESS: 13 rules found');
  });

  it("pass promtool's unit tests: each alert fires on a broken pipeline, none on a healthy one", () => {
    expect(promtool('test', 'rules', 'alerts.test.yml')).toContain('SUCCESS');
  });

  it('call a stream nearly full where the status page and spool status do', () => {
    const rules = readFileSync(`${OBSERVABILITY}prometheus/alerts.yml`, 'utf8');
    const expression = /alert: SpoolBufferNearlyFull\n(?:\s+#.*\n)*\s+expr: (.+)/.exec(rules)?.[1];
    expect(expression).toBe(`max by (namespace, stream) (spool_buffer_fill_ratio) > ${NEARLY_FULL_SHARE}`);
  });

  it('name only metrics that Spool exports', async () => {
    const exported = await exportedNames();
    const rules = readFileSync(`${OBSERVABILITY}prometheus/alerts.yml`, 'utf8');
    const used = [...new Set(metricsIn(rules.replace(/^\s*#.*$/gm, '')))];
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
  });
});

describe("the compose profile's Prometheus", () => {
  it('has a configuration promtool accepts, loading the alert rules', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-prometheus-'));
    try {
      const config = readFileSync(`${OBSERVABILITY}prometheus/prometheus.yml`, 'utf8');
      // In the container the rules are at /etc/prometheus/alerts.yml; here, where they are.
      const local = config.replace('/etc/prometheus/alerts.yml', `${OBSERVABILITY}prometheus/alerts.yml`);
      expect(local).not.toBe(config);
      writeFileSync(join(dir, 'prometheus.yml'), local);
      expect(promtool('check', 'config', join(dir, 'prometheus.yml'))).toContain('SUCCESS: 13 rules found');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(`${OBSERVABILITY}grafana/spool.json`, 'utf8')) as {
    panels: Array<{
      id: number;
      type: string;
      title: string;
      gridPos: { x: number; y: number; w: number; h: number };
      targets?: Array<{ expr: string }>;
    }>;
    templating: { list: Array<{ name: string; includeAll?: boolean; allValue?: string }> };
  };

  it('queries only metrics that Spool exports, in every panel', async () => {
    const exported = await exportedNames();
    const graphs = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(graphs.length).toBeGreaterThan(10);
    for (const panel of graphs) {
      const used = (panel.targets ?? []).flatMap((target) => metricsIn(target.expr));
      expect({ panel: panel.title, some: used.length > 0 }).toEqual({ panel: panel.title, some: true });
      expect({ panel: panel.title, unknown: used.filter((name) => !exported.has(name)) }).toEqual({
        panel: panel.title,
        unknown: [],
      });
    }
  });

  it('lays its panels out without overlaps, each with an id of its own', () => {
    const cells = new Map<string, string>();
    const overlaps = new Set<string>();
    for (const { title, gridPos } of dashboard.panels) {
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++) {
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
          const taken = cells.get(`${x},${y}`);
          if (taken) overlaps.add(`${title} overlaps ${taken}`);
          cells.set(`${x},${y}`, title);
        }
      }
    }
    expect([...overlaps]).toEqual([]);
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('filters events only by outcomes the ingest counts', async () => {
    const emitted = await emittedEventOutcomes();
    expect([...emitted].sort()).toEqual(['accepted', 'duplicate', 'rejected']);
    const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
    const rules = readFileSync(`${OBSERVABILITY}prometheus/alerts.yml`, 'utf8');
    const used = [...queries, rules].flatMap(eventOutcomesIn);
    expect(used).toContain('duplicate');
    expect(used.filter((outcome) => !emitted.has(outcome))).toEqual([]);
  });

  it('shows one deployment at a time: every series a query reads is of the chosen namespace, all of them by default', () => {
    const variable = dashboard.templating.list.find((entry) => entry.name === 'namespace');
    expect(variable).toMatchObject({ includeAll: true, allValue: '.*' });
    const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
    const selectors = queries.flatMap((expr) => expr.match(/\bspool_[a-z0-9_]+(\{[^}]*\})?/g) ?? []);
    expect(selectors.length).toBeGreaterThan(queries.length - 1);
    expect(selectors.filter((selector) => !selector.includes('{namespace=~"$namespace"'))).toEqual([]);
  });

  it('has PromQL that Prometheus parses, in every query', () => {
    // promtool parses a rule file: each query goes in as a recording rule.
    const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
    const dir = mkdtempSync(join(tmpdir(), 'spool-dashboard-'));
    const rules = queries.map(
      (expr, i) => `      - record: spool:dashboard_query_${i}\n        expr: ${JSON.stringify(expr)}`,
    );
    writeFileSync(
      join(dir, 'queries.yml'),
      `groups:\n  - name: dashboard\n    rules:\n${rules.join('\n')}\n`,
    );
    try {
      expect(promtool('check', 'rules', join(dir, 'queries.yml'))).toContain(
        `SUCCESS: ${queries.length} rules found`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
