import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PodMonitor, PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { FLUSH_QUEUE, loadConfig, queuePrefix } from '@spool/shared';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';

/**
 * Validates the kustomize base (deploy/k8s/base) against the Kubernetes and KEDA schemas, and
 * checks that its parts agree with each other and with the code.
 */
type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; [key: string]: unknown };

const base = new URL('./base/', import.meta.url);
const read = (file: string) => parse(readFileSync(new URL(file, base), 'utf8'));
const kustomization = read('kustomization.yaml') as { resources: string[] };
const manifests = kustomization.resources.map((file) => read(file) as Manifest);
const secretExample = read('secret.example.yaml') as Manifest;
const flusherSecretExample = read('secret-flusher.example.yaml') as Manifest;
const stringDataOf = (secret: Manifest) =>
  (secret as unknown as { stringData: Record<string, string> }).stringData;

type EnvFrom = {
  envFrom: Array<{ configMapRef?: { name: string }; secretRef?: { name: string; optional?: boolean } }>;
};
/** The Secrets a Deployment's container takes whole (envFrom). */
function secretRefsOf(deployment: unknown): Array<{ name: string; optional?: boolean }> {
  const pod = deployment as { spec: { template: { spec: { containers: EnvFrom[] } } } };
  return pod.spec.template.spec.containers[0]?.envFrom.flatMap((from) => from.secretRef ?? []) ?? [];
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

function find<T = Manifest>(kind: string, name: string): T {
  const manifest = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  if (!manifest) throw new Error(`no ${kind} ${name}`);
  return manifest as T;
}

type Container = {
  ports: Array<{ name: string; containerPort: number }>;
  env: Array<{ name: string; value: string }>;
  readinessProbe: { httpGet: { path: string; port: string } };
  livenessProbe: { httpGet: { path: string; port: string } };
};
type DeploymentSpec = {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: { containers: Container[] } };
  };
};

/** The manifest passes its kind's schema (kubernetes-models, @kubernetes-models/keda). */
function expectValid(manifest: Manifest): void {
  const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  expect(Model).toBeDefined();
  expect(() => new (Model as new (data: unknown) => { validate(): void })(manifest).validate()).not.toThrow();
}

describe('the Kubernetes base', () => {
  it.each(
    [...manifests, secretExample, flusherSecretExample].map(
      (m) => [`${m.kind} ${m.metadata.name}`, m] as const,
    ),
  )('%s is valid against its schema', (_name, manifest) => expectValid(manifest));

  it.each(['spool-ingest', 'spool-flusher'])('%s: selector, probes and port agree', (name) => {
    const deployment = find<DeploymentSpec>('Deployment', name);
    const { selector, template } = deployment.spec;
    expect(template.metadata.labels).toMatchObject(selector.matchLabels);
    const [container] = template.spec.containers;
    const port = container?.ports[0];
    expect(container?.readinessProbe.httpGet).toEqual({ path: '/readyz', port: port?.name });
    expect(container?.livenessProbe.httpGet).toEqual({ path: '/healthz', port: port?.name });
    expect(container?.env).toContainEqual({ name: 'PORT', value: String(port?.containerPort) });
  });

  it('points the Service, PDBs, HPA and ScaledObject at the Deployments', () => {
    const labels = (name: string) => find<DeploymentSpec>('Deployment', name).spec.selector.matchLabels;
    expect(find<{ spec: { selector: object } }>('Service', 'spool-ingest').spec.selector).toEqual(
      labels('spool-ingest'),
    );
    for (const name of ['spool-ingest', 'spool-flusher']) {
      expect(
        find<{ spec: { selector: { matchLabels: object } } }>('PodDisruptionBudget', name).spec.selector
          .matchLabels,
      ).toEqual(labels(name));
    }
    expect(
      find<{ spec: { scaleTargetRef: { name: string } } }>('HorizontalPodAutoscaler', 'spool-ingest').spec
        .scaleTargetRef.name,
    ).toBe('spool-ingest');
    expect(
      find<{ spec: { scaleTargetRef: { name: string } } }>('ScaledObject', 'spool-flusher').spec
        .scaleTargetRef.name,
    ).toBe('spool-flusher');
  });

  it.each(['spool-ingest', 'spool-flusher'])(
    '%s: leaves the replica count to its autoscaler (kubectl apply would set a named one back)',
    (name) => {
      expect(find<{ spec: object }>('Deployment', name).spec).not.toHaveProperty('replicas');
    },
  );

  it("scales the flusher on BullMQ's wait list of the flush queue, as the code names it", () => {
    const scaled = find<{ spec: { triggers: Array<{ type: string; metadata: { listName: string } }> } }>(
      'ScaledObject',
      'spool-flusher',
    );
    expect(scaled.spec.triggers[0]).toMatchObject({
      type: 'redis',
      metadata: { listName: `${queuePrefix()}:${FLUSH_QUEUE}:wait` },
    });
  });

  it("has KEDA read REDIS_URL's Redis by the Service's full name and the URL's database: KEDA looks names up in its own namespace", () => {
    const redisUrl = new URL(
      find<{ data: Record<string, string> }>('ConfigMap', 'spool').data.REDIS_URL as string,
    );
    const [trigger] = find<{
      spec: { triggers: Array<{ metadata: { address: string; databaseIndex: string } }> };
    }>('ScaledObject', 'spool-flusher').spec.triggers;
    const [host, port] = trigger?.metadata.address.split(':') ?? [];
    expect(host).toMatch(new RegExp(`^${redisUrl.hostname}\\.[a-z0-9-]+\\.svc\\.cluster\\.local$`));
    expect(port).toBe(redisUrl.port || '6379');
    expect(trigger?.metadata.databaseIndex).toBe(redisUrl.pathname.replace('/', '') || '0');
  });

  it('fails closed: the ingest does not start without the Secret that holds WRITE_KEYS, and is never told to run open', () => {
    expect(secretRefsOf(find('Deployment', 'spool-ingest'))).toEqual([{ name: 'spool' }]);
    expect(find<{ data: Record<string, string> }>('ConfigMap', 'spool').data).not.toHaveProperty(
      'ALLOW_ANONYMOUS_WRITES',
    );
    expect(stringDataOf(secretExample).WRITE_KEYS).toBeDefined();
  });

  it("keeps the flusher's secrets (S3 and admin keys) out of the ingest, which faces the internet", () => {
    const flusherOnly = Object.keys(stringDataOf(flusherSecretExample));
    expect(flusherOnly).toEqual(expect.arrayContaining(['ADMIN_KEYS', 'AWS_SECRET_ACCESS_KEY']));
    for (const key of flusherOnly) expect(stringDataOf(secretExample)).not.toHaveProperty(key);
    expect(secretRefsOf(find('Deployment', 'spool-ingest'))).not.toContainEqual(
      expect.objectContaining({ name: flusherSecretExample.metadata.name }),
    );
    expect(secretRefsOf(find('Deployment', 'spool-flusher'))).toEqual([
      { name: 'spool', optional: true },
      { name: flusherSecretExample.metadata.name, optional: true },
    ]);
    // Each process starts on what its pod is given.
    const configMap = find<{ data: Record<string, string> }>('ConfigMap', 'spool').data;
    const shared = { ...configMap, ...stringDataOf(secretExample) };
    expect(loadConfig(shared, 'ingest').writeKeys).toHaveLength(1);
    expect(
      loadConfig({ ...shared, ...stringDataOf(flusherSecretExample) }, 'flusher').adminKeys,
    ).toHaveLength(1);
  });

  it("guards the flusher's admin views: the example Secret and the README's command set ADMIN_KEYS", () => {
    // A value the flusher takes (16 characters or more, no ':'), as a real one must be.
    expect(
      loadConfig({ S3_BUCKET: 'b', ADMIN_KEYS: stringDataOf(flusherSecretExample).ADMIN_KEYS }, 'flusher')
        .adminKeys,
    ).toHaveLength(1);
    // Each command whole: its continued lines (ending in a backslash) joined.
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').replaceAll('\\\n', ' ');
    const commands = readme.match(/kubectl create secret generic spool-flusher [^\n]*/g);
    expect(commands?.length).toBeGreaterThanOrEqual(1);
    for (const command of commands ?? []) expect(command).toContain('ADMIN_KEYS=');
    // The ingest's Secret is never given them.
    for (const command of readme.match(/kubectl create secret generic spool [^\n]*/g) ?? []) {
      expect(command).not.toMatch(/ADMIN_KEYS=|AWS_/);
    }
  });
});

/**
 * An overlay of deploy/k8s/overlays, built as kustomize builds it: its strategic-merge patches
 * applied to the base (objects merged, `null` deletes a field, lists of named items such as
 * `containers` merged by name, other lists replaced, as `envFrom`), its own resources added.
 * (`kubectl kustomize` gives the same manifests; it is not needed to run this.)
 */
function buildOverlay(name: string) {
  const overlay = new URL(`./overlays/${name}/`, import.meta.url);
  const readOverlay = (file: string) => parse(readFileSync(new URL(file, overlay), 'utf8'));
  const spec = readOverlay('kustomization.yaml') as { resources: string[]; patches: Array<{ path: string }> };

  const named = (list: unknown): list is Array<{ name: string }> =>
    Array.isArray(list) &&
    list.every((item) => typeof (item as { name?: unknown } | null)?.name === 'string');

  function merge(target: unknown, patch: unknown): unknown {
    if (named(patch) && named(target)) {
      const merged = target.map((item) => {
        const change = patch.find((other) => other.name === item.name);
        return change ? merge(item, change) : item;
      });
      return [...merged, ...patch.filter((item) => !target.some((other) => other.name === item.name))];
    }
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
    const result: Record<string, unknown> = { ...(target as Record<string, unknown>) };
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete result[key];
      else result[key] = merge(result[key], value);
    }
    return result;
  }

  const patches = spec.patches.map(({ path }) => readOverlay(path) as Manifest);
  const built = manifests.map((manifest) => {
    const patch = patches.find((p) => p.kind === manifest.kind && p.metadata.name === manifest.metadata.name);
    return (patch ? merge(manifest, patch) : manifest) as Manifest;
  });
  for (const file of spec.resources.filter((path) => !path.startsWith('..')))
    built.push(readOverlay(file) as Manifest);
  const secrets = parseAllDocuments(readFileSync(new URL('secret.example.yaml', overlay), 'utf8')).map(
    (document) => document.toJSON() as Manifest & { stringData: Record<string, string> },
  );
  const builtOf = <T>(kind: string, name: string) =>
    built.find((m) => m.kind === kind && m.metadata.name === name) as unknown as T;
  return { patches, built, secrets, builtOf };
}

describe('the Redis Cluster overlay', () => {
  const { patches, built, secrets, builtOf } = buildOverlay('redis-cluster');
  const [secret] = secrets as [Manifest & { stringData: Record<string, string> }];

  it('patches only what the base has', () => {
    for (const patch of patches) {
      expect(manifests.some((m) => m.kind === patch.kind && m.metadata.name === patch.metadata.name)).toBe(
        true,
      );
    }
  });

  it.each([...built, secret].map((m) => [`${m.kind} ${m.metadata.name}`, m] as const))(
    '%s is valid against its schema',
    (_name, manifest) => expectValid(manifest),
  );

  it('configures both processes for the cluster, with replicated acknowledgements', () => {
    const env = {
      ...builtOf<{ data: Record<string, string> }>('ConfigMap', 'spool').data,
      ...secret.stringData,
    };
    expect(env).not.toHaveProperty('REDIS_URL');
    const ingest = loadConfig(env, 'ingest');
    expect(ingest.redis).toMatchObject({ kind: 'cluster', nodes: [{ host: 'redis-cluster', port: 6379 }] });
    expect(ingest.minReplicasAck).toBe(1);
    expect(loadConfig(env, 'flusher').redis.kind).toBe('cluster');
  });

  it('fails closed: neither process starts without the Secret that holds REDIS_CLUSTER_NODES', () => {
    type Pod = { spec: { template: { spec: { containers: Array<{ image: string }> } } } };
    const required = { name: secret.metadata.name };
    const flusherOwn = { name: flusherSecretExample.metadata.name, optional: true };
    for (const [name, refs] of [
      ['spool-ingest', [required]],
      ['spool-flusher', [required, flusherOwn]],
    ] as const) {
      const deployment = builtOf<Pod>('Deployment', name);
      // Merged into the base's container, not put in its place.
      expect(deployment.spec.template.spec.containers[0]?.image).toMatch(/^spool\//);
      expect(secretRefsOf(deployment)).toEqual(refs);
    }
    expect(secret.stringData).not.toHaveProperty('ADMIN_KEYS');
  });

  it("scales the flusher on the flush queue's wait list through KEDA's redis-cluster scaler, with the Secret's password", () => {
    type Trigger = { type: string; metadata: { listName: string }; authenticationRef: { name: string } };
    const [trigger] = builtOf<{ spec: { triggers: Trigger[] } }>('ScaledObject', 'spool-flusher').spec
      .triggers;
    expect(trigger).toMatchObject({
      type: 'redis-cluster',
      metadata: { listName: `${queuePrefix()}:${FLUSH_QUEUE}:wait` },
    });
    // The seed by the Service's full name, as the base's (KEDA resolves it in its own namespace).
    expect((trigger as unknown as { metadata: { addresses: string } }).metadata.addresses).toMatch(
      /^redis-cluster\.[a-z0-9-]+\.svc\.cluster\.local:6379$/,
    );
    const auth = builtOf<{ spec: { secretTargetRef: Array<{ name: string; key: string }> } }>(
      'TriggerAuthentication',
      trigger?.authenticationRef.name as string,
    );
    for (const ref of auth.spec.secretTargetRef) {
      expect(ref.name).toBe(secret.metadata.name);
      expect(secret.stringData).toHaveProperty(ref.key);
    }
  });
});

describe('the key files overlay', () => {
  const { patches, built, secrets, builtOf } = buildOverlay('key-files');
  type Container = {
    envFrom: EnvFrom['envFrom'];
    env: Array<{ name: string; value: string }>;
    volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  };
  type Pod = {
    spec: {
      template: {
        spec: {
          containers: Container[];
          volumes: Array<{
            name: string;
            secret?: { secretName: string; optional?: boolean; items?: unknown };
          }>;
        };
      };
    };
  };

  it('patches only what the base has', () => {
    for (const patch of patches) {
      expect(manifests.some((m) => m.kind === patch.kind && m.metadata.name === patch.metadata.name)).toBe(
        true,
      );
    }
  });

  it.each([...built, ...secrets].map((m) => [`${m.kind} ${m.metadata.name}`, m] as const))(
    '%s is valid against its schema',
    (_name, manifest) => expectValid(manifest),
  );

  /**
   * Each process's environment as its pod gets it, its key file written where the pod would find
   * it (the Secret's key, a file in the volume's directory) but under `dir`.
   */
  function podEnvironment(deployment: string, dir: string): Record<string, string> {
    const pod = builtOf<Pod>('Deployment', deployment).spec.template.spec;
    const [container] = pod.containers as [Container];
    // What its envFrom gives it: the ConfigMaps it names (the Secrets there are optional here,
    // and must not hold the keys: a variable and its file both set is refused).
    const env: Record<string, string> = {};
    for (const { configMapRef } of container.envFrom) {
      if (configMapRef)
        Object.assign(env, builtOf<{ data: Record<string, string> }>('ConfigMap', configMapRef.name).data);
    }
    for (const { name, value } of container.env) {
      if (!name.endsWith('_FILE')) {
        env[name] = value;
        continue;
      }
      // The file: mountPath/<key> of a Secret volume whose Secret has that key.
      const mount = container.volumeMounts.find(({ mountPath }) => value.startsWith(`${mountPath}/`));
      expect({ name, mounted: mount !== undefined, readOnly: mount?.readOnly }).toEqual({
        name,
        mounted: true,
        readOnly: true,
      });
      const volume = pod.volumes.find((v) => v.name === mount?.name);
      const secret = secrets.find((m) => m.metadata.name === volume?.secret?.secretName);
      const key = value.slice((mount?.mountPath.length ?? 0) + 1);
      // A file a key, named as the key: `items` would map keys to other paths.
      expect(volume?.secret).not.toHaveProperty('items');
      expect(secret?.stringData).toHaveProperty(key);
      // Fails closed: a Secret forgotten keeps the pod from starting, never lets it run open.
      expect(volume?.secret?.optional).toBeUndefined();
      const file = join(dir, `${deployment}-${key}`);
      writeFileSync(file, secret?.stringData[key] as string);
      env[name] = file;
    }
    return env;
  }

  it('gives each process its keys from its mounted Secret, which both accept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-key-files-overlay-'));
    try {
      const ingest = loadConfig(podEnvironment('spool-ingest', dir), 'ingest');
      expect(ingest.writeKeys.map(({ key }) => key)).toEqual([
        'replace-with-a-long-random-key',
        'replace-with-another-long-random-key',
      ]);
      expect(ingest.settingFiles.WRITE_KEYS).toBeDefined();
      // The base's ConfigMap still reaches both: its Redis, its bucket.
      const configMap = builtOf<{ data: Record<string, string> }>('ConfigMap', 'spool').data;
      expect(ingest.redis).toEqual({ kind: 'standalone', url: configMap.REDIS_URL });
      const flusher = loadConfig(podEnvironment('spool-flusher', dir), 'flusher');
      expect(flusher.s3.bucket).toBe(configMap.S3_BUCKET);
      expect(flusher.adminKeys).toEqual(['replace-with-a-long-random-admin-key']);
      expect(flusher.settingFiles.ADMIN_KEYS).toBeDefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes WRITE_KEYS from no Secret of the environment: the ingest's `spool` is optional, and the base keeps the flusher's", () => {
    const ingest = builtOf<Pod>('Deployment', 'spool-ingest');
    expect(secretRefsOf(ingest)).toEqual([{ name: 'spool', optional: true }]);
    // Merged into the base's containers, not put in their place.
    const [container] = ingest.spec.template.spec.containers as [Container & { image?: string }];
    expect(container.image).toMatch(/^spool\//);
    expect(container.env.map(({ name }) => name).sort()).toEqual(['METRICS_PORT', 'PORT', 'WRITE_KEYS_FILE']);
    const flusher = builtOf<Pod>('Deployment', 'spool-flusher');
    expect(secretRefsOf(flusher)).toEqual(secretRefsOf(find('Deployment', 'spool-flusher')));
    expect(flusher.spec.template.spec.volumes.map(({ name }) => name).sort()).toEqual(['admin-keys', 'tmp']);
  });
});

/**
 * How Prometheus finds Spool's pods (deploy/k8s/monitoring, and the Deployments' annotations):
 * every ingest and flusher pod, on the port and path that serve its metrics.
 */
describe('scraping the metrics on Kubernetes', () => {
  type Pod = {
    spec: {
      selector: { matchLabels: Record<string, string> };
      template: {
        metadata: { annotations?: Record<string, string> };
        spec: {
          containers: Array<{
            ports: Array<{ name: string; containerPort: number }>;
            env: Array<{ name: string; value: string }>;
          }>;
        };
      };
    };
  };
  const monitoring = new URL('./monitoring/', import.meta.url);
  const podMonitors = parseAllDocuments(readFileSync(new URL('pod-monitors.yaml', monitoring), 'utf8')).map(
    (document) => document.toJSON() as Manifest,
  );

  /** The container port that serves /metrics: METRICS_PORT's when the pod sets it, else PORT's. */
  function metricsPortOf(name: string): { name: string; containerPort: number } | undefined {
    const container = find<Pod>('Deployment', name).spec.template.spec.containers[0];
    const env = Object.fromEntries(container?.env.map((entry) => [entry.name, entry.value]) ?? []);
    const port = Number(env.METRICS_PORT ?? env.PORT);
    return container?.ports.find((p) => p.containerPort === port);
  }

  it.each(['spool-ingest', 'spool-flusher'])(
    '%s: its pods ask to be scraped on the port that serves /metrics',
    (name) => {
      const { template } = find<Pod>('Deployment', name).spec;
      expect(template.metadata.annotations).toEqual({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': String(metricsPortOf(name)?.containerPort),
        'prometheus.io/path': '/metrics',
      });
    },
  );

  it("keeps the ingest's metrics off its Service, which the internet reaches", () => {
    const metrics = metricsPortOf('spool-ingest');
    expect(metrics?.name).toBe('metrics');
    const service = find<{ spec: { ports: Array<{ targetPort: string | number }> } }>(
      'Service',
      'spool-ingest',
    );
    for (const port of service.spec.ports) {
      expect([metrics?.name, metrics?.containerPort]).not.toContain(port.targetPort);
    }
  });

  it.each(['spool-ingest', 'spool-flusher'])(
    "%s: a PodMonitor, valid against the operator's schema, selects its pods on a port they name",
    (name) => {
      const monitor = podMonitors.find((m) => m.metadata.name === name) as Manifest & {
        spec: {
          selector: { matchLabels: object };
          podMetricsEndpoints: Array<{ port: string; path: string }>;
        };
      };
      expect(monitor).toBeDefined();
      expectValid(monitor);
      const deployment = find<Pod>('Deployment', name).spec;
      expect(monitor.spec.selector.matchLabels).toEqual(deployment.selector.matchLabels);
      for (const endpoint of monitor.spec.podMetricsEndpoints) {
        expect(endpoint.port).toBe(metricsPortOf(name)?.name);
        expect(endpoint.path).toBe('/metrics');
      }
    },
  );

  it('gives the alert rules to the operator as they are written (prometheus-rule.sh)', () => {
    const printed = execFileSync('bash', [new URL('prometheus-rule.sh', monitoring).pathname], {
      encoding: 'utf8',
    });
    const rule = parse(printed) as Manifest & { spec: unknown };
    expectValid(rule);
    const alerts = parse(
      readFileSync(new URL('../observability/prometheus/alerts.yml', import.meta.url), 'utf8'),
    ) as { groups: unknown };
    expect(rule.spec).toEqual({ groups: alerts.groups });
  });
});
