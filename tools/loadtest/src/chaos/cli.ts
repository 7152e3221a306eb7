#!/usr/bin/env node
import { appendFileSync } from 'node:fs';
import { type RedisClient, shardUnit, streamKeys } from '@spool/shared';
import { listOpenUploads, type TcpProxy } from '@spool/testkit';
import { waitUntilLanded } from '@spool/testkit/landing';
import type { ProcessOutput, StackFaults } from '@spool/testkit/local-stack';
import { waitFor } from '@spool/testkit/wait';
import { Cluster } from 'ioredis';
import { type ClientLog, newLoadStats, runLoad } from '../load.js';
import { percentile, table } from '../report.js';
import { stopOnSignal } from '../stop-on-signal.js';
import { flushNow, runProblems, verify } from '../verify.js';
import { type ChaosStack, startChaosStack } from './chaos-stack.js';
import { greedyClients } from './greedy-clients.js';
import { parseChaosOptions } from './options.js';

const USAGE = `spool chaos — faults under load, then a count of what survived

  make test-chaos ARGS="--duration 2m --fsync everysec"
  --duration 60s        load time; faults are spread over it
  --fsync always        Redis appendfsync: always (0 acknowledged events may be lost) or everysec
                        (only those answered from 3 s before to 1 s after the Redis kill)
  --format ndjson.gz    the flushers' OUTPUT_FORMAT: ndjson.gz, ndjson.zst or parquet
  --s3-outage 30s       how long S3 is gone
  --fault 5s            how long each other fault lasts
  --concurrency 20      clients
  --cluster             a Redis Cluster (3 masters, 3 replicas): its faults are a slot resharded
                        under load and a master killed (kill -9) and replaced by its replica,
                        instead of a Redis restart and cut Redis connections
  --shards 1            STREAM_SHARDS of the ingests and flushers (1 to 8): each stream split over
                        that many shards, each a buffer with its own generations and flushes
  --min-replicas-ack 1  REDIS_MIN_REPLICAS_ACK of the ingests (with --cluster): 1 must lose
                        nothing when a master dies; 0 counts what it loses
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (line: string) => process.stderr.write(`${line}\n`);

/** What a fault reports: a note for the table, and whether it did what its name says. */
interface FaultOutcome {
  note: string;
  happened: boolean;
  /** When a fault that may lose acknowledged events (a Redis process killed, where that is
   * allowed) struck: only requests answered 202 in [from, to] (ms since the epoch) may be lost. */
  lossWindow?: [number, number];
}

/** Acknowledged before a kill, yet not on disk (appendfsync everysec) or not on a replica: at most
 * a second of writes, and up to 2 s more while a slow fsync holds the AOF write back. */
const LOSS_BEFORE_KILL_MS = 3_000;
/** A 202 sent just before the kill reaches its client a little after it. */
const LOSS_AFTER_KILL_MS = 1_000;
const lossWindowAt = (killedAt: number): [number, number] => [
  killedAt - LOSS_BEFORE_KILL_MS,
  killedAt + LOSS_AFTER_KILL_MS,
];

interface Fault {
  name: string;
  /** Resolves with a note for the table (a string, or an outcome), if it has one. */
  inject(stack: ChaosStack): Promise<unknown>;
}

const isOutcome = (value: unknown): value is FaultOutcome =>
  typeof value === 'object' && value !== null && 'happened' in value;

const faultsOf = (chaos: ChaosStack) => chaos.stack.faults as StackFaults;

async function openUploads(stack: ChaosStack): Promise<number> {
  return (await listOpenUploads(stack.s3Client, stack.bucket, '')).length;
}

interface FaultOptions {
  fsync: string;
  faultMs: number;
  s3OutageMs: number;
  cluster: boolean;
  /** The stream whose slot the cluster faults move, and whose master they kill. */
  busyStream: string;
  /** Adds the flush jobs of the run's buffers now, as the sweep would. */
  flushNow: () => Promise<void>;
}

function faults({ fsync, faultMs, s3OutageMs, cluster, busyStream, flushNow }: FaultOptions): Fault[] {
  // With flushes started as the fault begins, and held (up to 20 s more) until a request met
  // it: flushes come a threshold or FLUSH_INTERVAL apart, and a flush reads its generation before
  // its first request, so S3 faults that fell between two met no request at all (a review
  // counted 0 for "500" and "slow" in every run), yet were listed as injected. A fault that met
  // none fails the run.
  const s3 = (mode: 'error500' | 'slow' | 'gone', ms: number) => async (chaos: ChaosStack) => {
    const proxy = faultsOf(chaos).s3;
    proxy.set(mode);
    await flushNow();
    await sleep(ms);
    for (const until = Date.now() + 20_000; proxy.faulted === 0 && Date.now() < until; ) await sleep(100);
    const met = proxy.faulted;
    proxy.set('none');
    return { note: `${met} S3 request(s) or connection(s) met it`, happened: met > 0 } satisfies FaultOutcome;
  };
  return [
    {
      name: 'kill -9 a flusher during uploads, 3 times',
      inject: async (stack) => {
        let midUpload = 0;
        for (let i = 0; i < 3; i += 1) {
          // The S3 proxy holds the next part sent (waiting up to 35 s, longer than the stack's
          // FLUSH_INTERVAL, for one), and the flusher that sent it is killed with its multipart
          // upload open and the part unsent.
          const part = await faultsOf(stack).s3.holdNextUploadPart(35_000);
          const sender = stack.stack.flushers.find((flusher) => flusher.name === part?.appId);
          if (sender) midUpload += 1;
          await (sender ?? stack.stack.flushers[i % 2])?.process.restart(300);
          part?.release();
          await sleep(faultMs / 3);
        }
        // None means no multipart upload ran in 105 s: then this run tested no kill mid-upload.
        const note = `${midUpload} of 3 kills while the flusher had a multipart upload open`;
        return { note, happened: midUpload > 0 } satisfies FaultOutcome;
      },
    },
    {
      name: 'kill -9 an ingest (restarted after 1 s)',
      inject: async (stack) => stack.stack.ingests[1]?.process.restart(1_000),
    },
    {
      name: 'greedy clients at one ingest: 2,000 idle connections, 100 slowloris, 20 oversized headers',
      inject: async (stack) => {
        const port = Number(new URL(stack.ingestUrls[0] as string).port);
        const greedy = await greedyClients(port, { idle: 2_000, slowloris: 100, hugeHeaders: 20 });
        await sleep(faultMs);
        const answers = await greedy.hugeHeaderAnswers;
        greedy.release();
        const statuses = [...new Set(answers)].join(', ');
        return `oversized headers answered: ${statuses}`;
      },
    },
    ...(cluster ? clusterFaults(busyStream) : [redisRestart(fsync)]),
    { name: 'S3 answers 500', inject: s3('error500', faultMs) },
    { name: 'S3 answers slowly (2 s a request)', inject: s3('slow', faultMs) },
    ...(cluster ? [] : redisConnectionFaults(faultMs)),
    // Last: with S3 gone, buffers fill to MAX_BUFFER_BYTES and the ingest answers 503.
    { name: `S3 gone for ${s3OutageMs / 1000} s`, inject: s3('gone', s3OutageMs) },
  ];
}

function redisRestart(fsync: string): Fault {
  return {
    // Under full load, so an everysec window has acknowledged events in it to lose.
    name: `Redis kill -9 and restart (AOF, appendfsync ${fsync})`,
    inject: async (stack) => {
      const killedAt = Date.now();
      await stack.stack.redisServer?.restart(500);
      return { note: 'restarted', happened: true, lossWindow: lossWindowAt(killedAt) } satisfies FaultOutcome;
    },
  };
}

/** Through the TCP proxies between Redis and each side: one server only. */
function redisConnectionFaults(faultMs: number): Fault[] {
  return [
    {
      // Redis runs each append, and the ingest never hears back: a 503 "may be stored", and the
      // clients send the same messageIds again. Dedupe must keep each event to one copy.
      name: 'ingest↔Redis replies lost (connections cut mid-reply)',
      inject: async (stack) => {
        // Only once the ingests reach Redis again: after the Redis restart, a large AOF can take
        // seconds to load, and meanwhile no append is sent for its reply to be lost.
        await stack.stack.waitReady();
        const proxy = faultsOf(stack).ingestRedis as TcpProxy;
        const before = proxy.lostReplies;
        // Every script call (appends, registrations) runs and loses its reply; the rest (the
        // ready check after each reconnect) passes, so appends keep reaching Redis.
        proxy.loseReplies('evalsha');
        await sleep(faultMs);
        proxy.restore();
        // None lost: the run did not test what dedupe must keep out.
        const lost = proxy.lostReplies - before;
        return { note: `${lost} replies lost`, happened: lost > 0 } satisfies FaultOutcome;
      },
    },
    {
      name: 'network between flushers and Redis cut',
      inject: async (stack) => {
        faultsOf(stack).flusherRedis?.cut();
        await sleep(faultMs);
        faultsOf(stack).flusherRedis?.restore();
      },
    },
  ];
}

/** A busy stream's slot resharded to another master, then that master killed (kill -9). */
function clusterFaults(busyStream: string): Fault[] {
  const busyKey = streamKeys(busyStream).buf;
  const clusterOf = (chaos: ChaosStack) => {
    if (!chaos.stack.redisCluster) throw new Error('--cluster without a cluster');
    return chaos.stack.redisCluster;
  };
  return [
    {
      name: `the slot of stream ${busyStream} resharded to another master under load`,
      inject: async (chaos) => {
        const cluster = clusterOf(chaos);
        const owner = await cluster.masterOf(busyKey);
        const target = (await cluster.state()).find((node) => node.role === 'master' && node.port !== owner);
        const slot = Number(await cluster.call(owner, 'CLUSTER', 'KEYSLOT', busyKey));
        const started = Date.now();
        await cluster.migrateSlot(slot, target?.port as number);
        return `slot ${slot} moved from :${owner} to :${target?.port} in ${Date.now() - started} ms`;
      },
    },
    {
      name: `kill -9 the master of stream ${busyStream}; its replica takes over; the node rejoins`,
      inject: async (chaos) => {
        const cluster = clusterOf(chaos);
        const master = await cluster.masterOf(busyKey);
        const killed = Date.now();
        await cluster.process(master).kill9();
        await waitFor(
          async () => ((await cluster.masterOf(busyKey).catch(() => master)) !== master ? true : undefined),
          60_000,
          'a replica to take over',
        );
        const promotedMs = Date.now() - killed;
        // As a restarted pod: it rejoins as the new master's replica (with REDIS_MIN_REPLICAS_ACK=1
        // the new master refuses writes until it has one).
        cluster.process(master).start();
        await cluster.waitHealthy(3);
        return {
          note: `replica promoted after ${promotedMs} ms; replicas whole again after ${Date.now() - killed} ms`,
          happened: true,
          lossWindow: lossWindowAt(killed),
        } satisfies FaultOutcome;
      },
    },
  ];
}

/**
 * SPOOL_CHAOS_LOGS=<file>: the services' log lines (warnings and errors), each after the time and
 * the service's name, appended to a file: what to read when a run fails. The faults' lines on
 * stderr carry the same clock.
 */
function serviceLogs(file: string | undefined): { output?: ProcessOutput } {
  if (!file) return {};
  return { output: (name, line) => appendFileSync(file, `${new Date().toISOString()} ${name} ${line}\n`) };
}

/** Keys matching `pattern` on every master (a cluster) or on the one server. */
async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  const servers = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const keys: string[] = [];
  for (const server of servers) {
    let cursor = '0';
    do {
      const [next, page] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 10_000);
      keys.push(...page);
      cursor = next;
    } while (cursor !== '0');
  }
  return keys;
}

async function main(): Promise<number> {
  const options = parseChaosOptions(process.argv.slice(2));
  if ('help' in options) {
    process.stdout.write(USAGE);
    return 0;
  }
  if ('problem' in options) {
    say(`spool chaos: ${options.problem}\n\n${USAGE}`);
    return 2;
  }
  const { durationMs, faultMs, s3OutageMs, concurrency, fsync, cluster, minReplicasAck, format, shards } =
    options;

  const stack = await startChaosStack({
    fsync,
    cluster,
    minReplicasAck,
    format,
    shards,
    ...serviceLogs(process.env.SPOOL_CHAOS_LOGS),
  });
  stopOnSignal(() => stack.stop());
  const redis = stack.stack.connectRedis({ maxRetriesPerRequest: 5 });
  (redis as NodeJS.EventEmitter).on('error', () => {});
  const s3 = stack.s3Client;
  try {
    const runId = `ch${Date.now().toString(36)}`;
    const streams = [`${runId}-a`, `${runId}-b`];
    // The buffer units in Redis: each stream's shards (STREAM_SHARDS), the stream itself unsharded.
    const units = streams.flatMap((stream) =>
      Array.from({ length: shards }, (_, shard) => shardUnit(stream, shard)),
    );
    const stats = newLoadStats();
    const logs: ClientLog[] = [];
    const started = Date.now();
    let faultsDone = false;
    const load = runLoad(
      {
        urls: stack.ingestUrls,
        runId,
        streams,
        concurrency,
        eventsPerRequest: 10,
        eventBytes: 200,
        randomPadding: true,
        // Load runs through every fault, and for at least --duration.
        done: () => faultsDone && Date.now() - started >= durationMs,
      },
      stats,
      logs,
    );
    const schedule = faults({
      fsync,
      faultMs,
      s3OutageMs,
      cluster,
      busyStream: streams[0] as string,
      flushNow: () => flushNow(redis, 'spool', units),
    });
    const gap = durationMs / (schedule.length + 1);
    const injected: Array<[string, string]> = [];
    const notHappened: string[] = [];
    const lossWindows: Array<[number, number]> = [];
    for (const [i, fault] of schedule.entries()) {
      await sleep(Math.max(0, started + gap * (i + 1) - Date.now()));
      const at = ((Date.now() - started) / 1000).toFixed(1);
      say(`t=${at}s (${new Date().toISOString()})  ${fault.name}`);
      const before = percentile(stats.allLatencies.slice(-2_000), 99);
      const mark = stats.allLatencies.length;
      const outcome = await fault.inject(stack);
      const note = isOutcome(outcome) ? outcome.note : outcome;
      if (isOutcome(outcome) && !outcome.happened) notHappened.push(fault.name);
      if (isOutcome(outcome) && outcome.lossWindow) lossWindows.push(outcome.lossWindow);
      const during = percentile(stats.allLatencies.slice(mark), 99);
      injected.push([
        fault.name,
        `at ${at} s; ${stats.accepted} requests acknowledged so far; p99 ${before.toFixed(0)} ms before, ${during.toFixed(0)} ms during${typeof note === 'string' ? `; ${note}` : ''}`,
      ]);
    }
    faultsDone = true;
    await load;
    faultsOf(stack).s3.set('none');
    faultsOf(stack).flusherRedis?.restore();
    faultsOf(stack).ingestRedis?.restore();
    await stack.stack.waitReady();
    say(
      `load done: ${stats.requests} requests, ${stats.accepted} acknowledged; waiting for everything to land`,
    );
    await flushNow(redis, 'spool', units);
    // Counted by messageId even when the streams' counters never agree: what was lost or stored twice.
    const countersDisagree = await waitUntilLanded(redis, units, { timeoutMs: 5 * 60_000 }).then(
      () => undefined,
      (error: Error) => error.message,
    );
    const v = await verify(s3, { bucket: stack.bucket }, streams, runId, 10, logs);
    let orphans = 0;
    for (const unit of units) orphans += (await scanKeys(redis, streamKeys(unit).sealedPattern)).length;
    // A flusher killed mid-upload leaves its multipart upload open; the retry must abort it.
    const uploadsLeftOpen = await openUploads(stack);
    const acknowledged = v.acceptedLanded + v.missing;
    say('\nFaults injected:');
    say(table(injected));
    say('\nEvents:');
    say(
      table([
        ['acknowledged (202)', acknowledged],
        ['landed in S3, once', v.acceptedLanded],
        ['LOST', v.missing],
        ['DUPLICATED (copies by messageId)', v.duplicated],
        ['requests retried with the same messageIds', stats.retries],
        ['events answered as duplicates', stats.duplicateEvents],
        ['refused but stored', v.refusedFound],
        ['IN ANOTHER STREAM', v.misplaced],
        ['unanswered or timed out, landed', v.unknownLanded],
        ['sealed keys left in Redis', orphans],
        ['multipart uploads left open', uploadsLeftOpen],
      ]),
    );
    // What may be lost: with one server, what appendfsync everysec had not written; in a
    // cluster, what a dead master had not replicated, unless a replica confirmed every append.
    // Either only around the kill: a request answered at any other time must have landed.
    const lossAllowed = cluster ? minReplicasAck === 0 : fsync === 'everysec';
    const inLossWindow = (client: number, seq: number) => {
      const at = logs[client]?.answeredAt[seq] ?? 0;
      return lossAllowed && lossWindows.some(([from, to]) => at >= from && at <= to);
    };
    const window = cluster
      ? `REDIS_MIN_REPLICAS_ACK=0: ${v.missing} acknowledged events lost with the killed master`
      : `appendfsync everysec: ${v.missing} acknowledged events lost in the restart window`;
    const problems = [
      ...runProblems(stats, v, { mayLose: inLossWindow }),
      ...notHappened.map((name) => `This fault did not happen, so the run did not test it: ${name}`),
      ...(orphans > 0 ? [`${orphans} sealed key(s) left in Redis`] : []),
      ...(uploadsLeftOpen > 0 ? [`${uploadsLeftOpen} multipart upload(s) left open`] : []),
      ...(countersDisagree
        ? [`The streams' accepted and landed counters did not agree: ${countersDisagree}`]
        : []),
    ];
    const ok = problems.length === 0;
    for (const problem of problems) say(`\n${problem}`);
    say(`\n${ok ? 'OK' : 'FAILED'}${lossAllowed ? ` (${window})` : ''}`);
    return ok ? 0 : 1;
  } finally {
    redis.disconnect();
    await stack.stop();
  }
}

process.exit(await main());
