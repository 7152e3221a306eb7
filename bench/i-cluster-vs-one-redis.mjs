// i. Redis Cluster vs one Redis. The same ingest build on a cluster of 3 masters (no replicas,
//    no AOF, as the one server here) and on one redis-server: single-event requests and 100-event
//    batches at 100 connections, alternating (3 rounds of 5 s each) to share the machine's drift.
//    Target: cluster >= 0.9 x one Redis for both: routing by slot costs little. Then, on the
//    cluster, one hot stream unsharded vs over 3 shards (STREAM_SHARDS), with the CPU each part
//    spends per event (the ingest's from /proc, each master's from INFO cpu): how much of one
//    Redis core an event takes is what a shard can carry, and docs/benchmarks.md projects from it.
//    Everything shares this machine's cores: the ratios hold, absolute events/s do not travel.
import { shardUnit } from '@spool/shared';
import {
  alternate,
  cpuSeconds,
  drainBuffers,
  load,
  markdown,
  startIngest,
  startStack,
  uniqueIdBodies,
} from './lib.mjs';

const TARGET = 0.9;
const { single, batch } = uniqueIdBodies();
const SHAPES = [
  { name: 'single-event requests', events: 1, makeBody: single },
  { name: '100-event batches', events: 100, makeBody: batch },
];

/** CPU seconds each master's redis-server has used, by port (INFO cpu). */
async function mastersCpuSeconds(cluster, ports) {
  const seconds = new Map();
  for (const port of ports) {
    const info = String(await cluster.call(port, 'INFO', 'cpu'));
    const used = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    seconds.set(port, used('used_cpu_user') + used('used_cpu_sys'));
  }
  return seconds;
}

/** One load with CPU accounting: events/s, and µs of CPU per event for the ingest and each master. */
async function loadWithCpu(url, makeBody, events, { ingestPid, cluster, masters, seconds, drain }) {
  const ingestBefore = cpuSeconds(ingestPid);
  const redisBefore = await mastersCpuSeconds(cluster, masters);
  const result = await load(url, { makeBody, seconds }).finally(drain());
  if (result.errors + result.non2xx > 0) {
    throw new Error(
      `${url}: ${result.errors} errors, ${result.non2xx} non-2xx (${JSON.stringify(result.statusCodes)})`,
    );
  }
  const redisAfter = await mastersCpuSeconds(cluster, masters);
  const total = result.requestsPerSecond * seconds * events;
  const perEvent = (seconds) => (seconds * 1e6) / total;
  return {
    eventsPerSecond: result.requestsPerSecond * events,
    ingestMicros: perEvent(cpuSeconds(ingestPid) - ingestBefore),
    masterMicros: masters.map((port) => perEvent((redisAfter.get(port) ?? 0) - (redisBefore.get(port) ?? 0))),
  };
}

export async function run({ rounds = 3, seconds = 5 } = {}) {
  const one = await startStack();
  const cluster = await startStack({ cluster: { masters: 3, replicasPerMaster: 0 } });
  const oneIngest = await startIngest(one);
  const clusterIngest = await startIngest(cluster);
  const measured = [];
  for (const [index, { name, events, makeBody }] of SHAPES.entries()) {
    const side = (mode, bench, url) => ({
      url: `${url}/v1/streams/bench-i-${index}-${mode}/events`,
      makeBody: (round) => makeBody(`${index}${mode}${round}`),
      stream: `bench-i-${index}-${mode}`,
      bench,
    });
    const [oneResult, clusterResult] = await alternate(
      one,
      [side('one', one, oneIngest), side('cluster', cluster, clusterIngest)],
      { rounds, seconds },
    );
    measured.push({
      name,
      oneEventsPerSecond: oneResult.requestsPerSecond * events,
      clusterEventsPerSecond: clusterResult.requestsPerSecond * events,
      ratio: clusterResult.requestsPerSecond / oneResult.requestsPerSecond,
      p99: `${oneResult.p99} / ${clusterResult.p99}`,
    });
  }

  // CPU per event on the cluster, and one hot stream unsharded (one master takes it all) vs over
  // 3 shards. Shards land on masters by their hash tags; this stream's 3 fall on the 3 masters of
  // a fresh 3-master cluster (slots 0-5460, 5461-10922, 10923-16383), so the spread is measured.
  const hot = 'bench-i-hot-a';
  const shardedIngest = await startIngest(cluster, { STREAM_SHARDS: `${hot}:3` });
  const pidOf = (url) => cluster.stack.ingests.find((ingest) => ingest.url === url)?.process.pid;
  const masters = (await cluster.stack.redisCluster.state())
    .filter((node) => node.role === 'master')
    .map((node) => node.port);
  const units = [0, 1, 2].map((shard) => shardUnit(hot, shard));
  const cases = [
    { name: 'single-event requests, 1 shard', url: clusterIngest, makeBody: single, events: 1 },
    { name: '100-event batches, 1 shard', url: clusterIngest, makeBody: batch, events: 100 },
    { name: '100-event batches, 3 shards', url: shardedIngest, makeBody: batch, events: 100 },
  ];
  const totals = cases.map(() => ({
    eventsPerSecond: 0,
    ingestMicros: 0,
    masterMicros: masters.map(() => 0),
  }));
  for (let round = 0; round < rounds; round += 1) {
    for (const [index, { url, makeBody, events }] of cases.entries()) {
      const result = await loadWithCpu(
        `${url}/v1/streams/${hot}/events`,
        makeBody(`hot${index}${round}`),
        events,
        {
          ingestPid: pidOf(url),
          cluster: cluster.stack.redisCluster,
          masters,
          seconds,
          drain: () => drainBuffers(cluster, units),
        },
      );
      const total = totals[index];
      total.eventsPerSecond += result.eventsPerSecond / rounds;
      total.ingestMicros += result.ingestMicros / rounds;
      result.masterMicros.forEach((micros, master) => {
        total.masterMicros[master] += micros / rounds;
      });
    }
  }
  one.redis.disconnect();
  cluster.redis.disconnect();

  const ratio = Math.min(...measured.map((m) => m.ratio));
  const hotRows = cases.map(({ name }, index) => {
    const { eventsPerSecond, ingestMicros, masterMicros } = totals[index];
    const redisMicros = masterMicros.reduce((sum, micros) => sum + micros, 0);
    const busiest = Math.max(...masterMicros);
    return {
      name,
      eventsPerSecond: Math.round(eventsPerSecond),
      ingestMicros,
      redisMicros,
      busiestShare: busiest / redisMicros,
      // Events/s of this stream that the busiest master's one core could carry, Redis alone.
      streamCapacity: Math.round(1e6 / busiest),
      // Events/s one ingest core could carry, the ingest alone.
      ingestCapacity: Math.round(1e6 / ingestMicros),
    };
  });
  return {
    name: 'i. Redis Cluster (3 masters) vs one Redis',
    target: `cluster >= ${TARGET} x one Redis, single events and 100-event batches`,
    ratio,
    met: ratio >= TARGET,
    measured,
    perEvent: hotRows,
    markdown: [
      markdown(
        'i. Ingest on a 3-master Redis Cluster vs on one Redis (100 connections, 3 rounds of 5 s)',
        [
          '',
          'events/s, one Redis',
          'events/s, cluster',
          `cluster / one (target >= ${TARGET})`,
          'p99 ms one / cluster',
        ],
        measured.map((m) => [
          m.name,
          m.oneEventsPerSecond,
          m.clusterEventsPerSecond,
          m.ratio.toFixed(2),
          m.p99,
        ]),
      ),
      markdown(
        'i. One stream on the cluster: CPU per event, and a hot stream unsharded vs STREAM_SHARDS=3',
        [
          '',
          'events/s',
          'ingest CPU µs/event',
          'events/s per ingest core',
          'Redis CPU µs/event (all masters)',
          'busiest master share',
          'events/s of the stream its busiest master carries (one core)',
        ],
        hotRows.map((row) => [
          row.name,
          row.eventsPerSecond,
          row.ingestMicros.toFixed(1),
          row.ingestCapacity,
          row.redisMicros.toFixed(2),
          `${Math.round(row.busiestShare * 100)} %`,
          row.streamCapacity,
        ]),
      ),
    ].join('\n'),
  };
}
