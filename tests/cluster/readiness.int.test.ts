import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type LocalRedisCluster, LocalStack } from '@spool/testkit/local-stack';
import { waitFor } from '@spool/testkit/wait';

/**
 * Readiness on a Redis Cluster whose master dies with no replica to take its slots: the ingest
 * and the flusher say not ready until it is back. (ioredis drops a dead node from its pool, so
 * "every master connected" held, and both said ready while every append to those slots failed.)
 */
let stack: LocalStack;

beforeAll(async () => {
  stack = await LocalStack.start({ redis: { cluster: { masters: 3, replicasPerMaster: 0 } } });
  await stack.addIngest();
  await stack.addFlusher();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

const readiness = async (url: string) => {
  const answer = await fetch(`${url}/readyz`);
  return { code: answer.status, body: (await answer.json()) as { status: string; reason?: string } };
};
const services = () => [stack.ingests[0]?.url as string, stack.flushers[0]?.url as string];

/** Until `url`'s /readyz answers `code` (with `reason` in its reason, for a 503). */
const readinessReaches = (url: string, code: number, reason = '') =>
  waitFor(
    async () => {
      const probe = await readiness(url);
      return probe.code === code && (probe.body.reason ?? '').includes(reason) ? probe : undefined;
    },
    30_000,
    `${url}/readyz ${code} ${reason}`,
  );

/** Kills the first master, runs `act`, then starts it again and waits for every service ready. */
async function withoutAMaster(act: (cluster: LocalRedisCluster, port: number) => Promise<void>) {
  const cluster = stack.redisCluster as LocalRedisCluster;
  for (const url of services()) await readinessReaches(url, 200);
  const [master] = (await cluster.state()).filter((node) => node.role === 'master');
  const port = (master as { port: number }).port;
  await cluster.process(port).kill9();
  try {
    await act(cluster, port);
  } finally {
    cluster.process(port).start();
  }
  await cluster.waitHealthy(0);
  for (const url of services()) await readinessReaches(url, 200);
}

describe('a Redis Cluster master that dies with no replica', () => {
  it('makes the ingest and the flusher not ready while the cluster is down (full coverage, the default)', async () => {
    await withoutAMaster(async () => {
      for (const url of services()) {
        const probe = await readinessReaches(url, 503, 'cluster_state:fail');
        expect(probe.body.status).toBe('not ready');
      }
    });
  }, 120_000);

  it('leaves them ready where the cluster serves its other slots (cluster-require-full-coverage no)', async () => {
    const cluster = stack.redisCluster as LocalRedisCluster;
    for (const port of cluster.ports)
      await cluster.call(port, 'CONFIG', 'SET', 'cluster-require-full-coverage', 'no');
    try {
      await withoutAMaster(async (cluster, port) => {
        // Judged once the cluster has marked the master failed and still says ok.
        await waitFor(
          async () => {
            const nodes = await cluster.state();
            const info = String(await cluster.callAny('CLUSTER', 'INFO'));
            const failed = nodes.some((node) => node.port === port && node.failed);
            return failed && info.includes('cluster_state:ok') ? true : undefined;
          },
          30_000,
          'the master marked failed, the cluster ok',
        );
        // And stays so: each probe refreshes the slot map, which still names the failed master,
        // and the client added it again, unconnected: /readyz alternated with "2 of 3 connected"
        // (the flusher's PING of every master with "1 of 3 … answered a PING with Error").
        for (const url of services()) await readinessReaches(url, 200);
        const probes: string[] = [];
        for (let round = 0; round < 8; round += 1) {
          for (const url of services()) {
            const probe = await readiness(url);
            probes.push(probe.body.reason ?? String(probe.code));
          }
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        expect(probes).toEqual(Array(16).fill('200'));
      });
    } finally {
      for (const port of cluster.ports)
        await cluster.call(port, 'CONFIG', 'SET', 'cluster-require-full-coverage', 'yes');
    }
  }, 120_000);
});
