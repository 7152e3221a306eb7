import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';

/**
 * The compose file passes every setting of the README's configuration table through from the
 * environment to the services that read it, but those it fixes or has no use for (named below):
 * a setting it drops is one a user sets and sees ignored (ADMIN_KEYS, once: the admin views ran
 * open whatever the environment said).
 */
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const compose = parse(readFileSync(new URL('../compose.yml', import.meta.url), 'utf8'), { merge: true }) as {
  services: Record<string, { environment: Record<string, string> }>;
};

/** Settings compose.yml leaves out on purpose, and why (its own header says so too). */
const NOT_PASSED: Record<string, string> = {
  REDIS_CLUSTER_NODES: 'its Redis is one server',
  REDIS_MIN_REPLICAS_ACK: 'its Redis has no replicas',
  HOST: "the images' own",
  PORT: "the images' own; the published ports depend on it",
  METRICS_PORT: "the observability profile's Prometheus scrapes the ingests' /metrics on PORT",
  AWS_SESSION_TOKEN: 'its S3 store is its own, with static keys: no temporary credentials',
  // A path is of no use without the file mounted there: the two are added together, in an override.
  REDIS_URL_FILE: 'a mount of its own; its Redis is its own, at a fixed URL',
  REDIS_CLUSTER_NODES_FILE: 'a mount of its own; its Redis is one server',
  WRITE_KEYS_FILE: 'a mount of its own',
  ADMIN_KEYS_FILE: 'a mount of its own',
};

/** The README table's rows: each variable and the processes that read it. */
function documentedSettings(): Array<{ name: string; readBy: string[] }> {
  const rows: Array<{ name: string; readBy: string[] }> = [];
  for (const line of readme.split('\n')) {
    const cells = line.split(' | ');
    if (!line.startsWith('| `') || cells.length < 4) continue;
    const readBy = (cells[2] as string).trim();
    const processes = readBy === 'both' ? ['ingest', 'flusher'] : [readBy];
    if (!processes.every((name) => name === 'ingest' || name === 'flusher')) continue;
    for (const [, name] of (cells[0] as string).matchAll(/`([A-Z0-9_]+)`/g)) {
      rows.push({ name: name as string, readBy: processes });
    }
  }
  return rows;
}

describe('docker/compose.yml', () => {
  const settings = documentedSettings();

  it('reads the README table (a format change must not make this test pass on nothing)', () => {
    expect(settings.length).toBeGreaterThan(35);
    expect(settings).toContainEqual({ name: 'ADMIN_KEYS', readBy: ['flusher'] });
    expect(settings).toContainEqual({ name: 'FLUSH_THRESHOLD_BYTES', readBy: ['ingest', 'flusher'] });
  });

  it.each(['ingest', 'flusher'])('gives the %s every setting it reads', (service) => {
    const environment = compose.services[service]?.environment ?? {};
    const missing = settings
      .filter(({ name, readBy }) => readBy.includes(service) && !(name in NOT_PASSED))
      .map(({ name }) => name)
      .filter((name) => !(name in environment));
    expect(missing).toEqual([]);
  });

  it('passes a setting from the environment, not a fixed value, unless it is one compose runs itself', () => {
    const fixed = new Set([
      'REDIS_URL',
      'S3_ENDPOINT',
      'S3_REGION',
      'S3_FORCE_PATH_STYLE',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
    ]);
    for (const service of ['ingest', 'flusher']) {
      for (const [name, value] of Object.entries(compose.services[service]?.environment ?? {})) {
        if (fixed.has(name) || name.startsWith('AWS_')) continue;
        expect([name, value]).toEqual([name, expect.stringMatching(new RegExp(`^\\$\\{${name}:-`))]);
      }
    }
  });
});
