import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { FLUSH_QUEUE, queuePrefix } from '@spool/shared';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { parse } from 'yaml';

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

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
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

describe('the Kubernetes base', () => {
  it.each([...manifests, secretExample].map((m) => [`${m.kind} ${m.metadata.name}`, m] as const))(
    '%s is valid against its schema',
    (_name, manifest) => {
      const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
      expect(Model).toBeDefined();
      expect(() =>
        new (Model as new (data: unknown) => { validate(): void })(manifest).validate(),
      ).not.toThrow();
    },
  );

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

  it('fails closed: the ingest does not start without the Secret that holds WRITE_KEYS, and is never told to run open', () => {
    type EnvFrom = { envFrom: Array<{ secretRef?: { name: string; optional?: boolean } }> };
    const ingest = find<{ spec: { template: { spec: { containers: EnvFrom[] } } } }>(
      'Deployment',
      'spool-ingest',
    );
    const secretRefs = ingest.spec.template.spec.containers[0]?.envFrom.flatMap(
      (from) => from.secretRef ?? [],
    );
    expect(secretRefs).toEqual([{ name: 'spool' }]);
    expect(find<{ data: Record<string, string> }>('ConfigMap', 'spool').data).not.toHaveProperty(
      'ALLOW_ANONYMOUS_WRITES',
    );
    expect(
      (secretExample as unknown as { stringData: Record<string, string> }).stringData.WRITE_KEYS,
    ).toBeDefined();
  });
});
