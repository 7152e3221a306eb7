import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { streamKeys } from '@spool/shared';
import { type LocalRedisCluster, LocalStack } from '@spool/testkit/local-stack';
import { waitFor } from '@spool/testkit/wait';
import { type Acknowledged, countLanded, send, stackS3 } from './cluster-support.js';

/**
 * A Redis Cluster whose master dies with no replica to take its slots. Readiness: the ingest and
 * the flusher say not ready until it is back, unless the Cluster serves without it. (ioredis
 * drops a dead node from its pool, so "every master connected" held, and both said ready while
 * every append to those slots failed.) The sweep: streams on the other masters are still flushed
 * by time.
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

/** Until two probes of `url`'s /readyz in a row answer 200. */
const readyTwiceInARow = (url: string) =>
  waitFor(
    async () => {
      const first = await readiness(url);
      return first.code === 200 && (await readiness(url)).code === 200 ? true : undefined;
    },
    30_000,
    `${url}/readyz 200 twice in a row`,
  );

/**
 * Kills a master (the first, unless `port` names one), runs `act`, then starts it again and waits
 * for every service ready.
 */
async function withoutAMaster(
  act: (cluster: LocalRedisCluster, port: number) => Promise<void>,
  victim?: number,
) {
  const cluster = stack.redisCluster as LocalRedisCluster;
  for (const url of services()) await readinessReaches(url, 200);
  const [master] = (await cluster.state()).filter((node) => node.role === 'master');
  const port = victim ?? (master as { port: number }).port;
  await cluster.process(port).kill9();
  try {
    await act(cluster, port);
  } finally {
    // Back before anything else asks the cluster (restoring a setting on every node), or its
    // "Connection is closed" would hide why `act` failed.
    cluster.process(port).start();
    await cluster.waitHealthy(0);
  }
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
    await withFullCoverageOff(async () => {
      await withoutAMaster(async (cluster, port) => {
        await markedFailedClusterOk(cluster, port);
        // And stays so: each probe refreshes the slot map, which still names the failed master,
        // and the client added it again, unconnected: /readyz alternated with "2 of 3 connected"
        // (the flusher's PING of every master with "1 of 3 … answered a PING with Error").
        // From two ready probes in a row: in two clean clones, the probe right after the first
        // ready one said "2 of 3 connected" once, both services at once, and every later one was
        // ready (notes of 2026-12-07). An alternation never gives two in a row.
        for (const url of services()) await readyTwiceInARow(url);
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
    });
  }, 120_000);

  it('still flushes by time the streams of the masters left, whichever master held the keys of the sweep before (full coverage off)', async () => {
    const cluster = stack.redisCluster as LocalRedisCluster;
    // Versions before kept the stream registry, the old stream set and the sweep's lease in slots
    // of their own: a namespace whose old keys sit on a master that serves neither the queue's
    // slot nor the stream. With that master gone, every sweep failed, and an append starting a
    // buffer was refused (its registration went there).
    const { namespace, victim } = await namespaceWithOldKeysAway(cluster);
    let stream = '';
    for (let i = 0; stream === ''; i += 1) {
      if ((await cluster.masterOf(streamKeys(`away-${i}`, namespace).buf)) !== victim) stream = `away-${i}`;
    }
    const env = { REDIS_NAMESPACE: namespace, FLUSH_INTERVAL: '2s' };
    const ingest = await stack.addIngest(env);
    await stack.addFlusher(env);
    const redis = stack.connectRedis();
    const s3 = stackS3(stack);
    try {
      await withFullCoverageOff(async () => {
        await withoutAMaster(async (cluster, port) => {
          await markedFailedClusterOk(cluster, port);
          const acknowledged: Acknowledged = new Map();
          // Under the threshold: only the sweep flushes it.
          await send([ingest.url], stream, 3, 3, acknowledged, Date.now() + 30_000);
          const landing = await countLanded(redis, s3, stack.s3?.bucket as string, acknowledged, {
            namespace,
          });
          expect(landing).toEqual({ landed: 3, lost: [], duplicated: [], unexpected: [] });
        }, victim);
      });
    } finally {
      redis.disconnect();
      s3.destroy();
    }
  }, 180_000);
});

/** Runs `act` with every node set to serve its slots while a master is missing. */
async function withFullCoverageOff(act: () => Promise<void>) {
  const cluster = stack.redisCluster as LocalRedisCluster;
  for (const port of cluster.ports)
    await cluster.call(port, 'CONFIG', 'SET', 'cluster-require-full-coverage', 'no');
  try {
    await act();
  } finally {
    for (const port of cluster.ports)
      await cluster.call(port, 'CONFIG', 'SET', 'cluster-require-full-coverage', 'yes');
  }
}

/** Until the cluster has marked the master on `port` failed and still says ok. */
async function markedFailedClusterOk(cluster: LocalRedisCluster, port: number) {
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
}

/**
 * A namespace whose keys of the sweep as versions before named them (`<ns>:stream-registry`,
 * `<ns>:streams`, `<ns>:sweep-lease`) all sit on one master that does not serve the queue's
 * slot `{<ns>}`, and that master.
 */
async function namespaceWithOldKeysAway(cluster: LocalRedisCluster) {
  for (let i = 0; ; i += 1) {
    const namespace = `lost-${i}`;
    const [queue, ...old] = await Promise.all(
      [
        `{${namespace}}`,
        `${namespace}:stream-registry`,
        `${namespace}:streams`,
        `${namespace}:sweep-lease`,
      ].map((key) => cluster.masterOf(key)),
    );
    if (old.every((port) => port === old[0]) && old[0] !== queue)
      return { namespace, victim: old[0] as number };
  }
}
