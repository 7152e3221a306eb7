#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { streamRegistryKey } from '@spool/shared';
import { waitUntilLanded } from '@spool/testkit/landing';
import { Redis } from 'ioredis';
import { startChaosStack } from '../chaos/chaos-stack.js';
import { type ClientLog, newLoadStats, runLoad } from '../load.js';
import { percentile, table } from '../report.js';
import { stopOnSignal } from '../stop-on-signal.js';
import { flushNow, runProblems, verify } from '../verify.js';
import { growthPast, MIN_JUDGED_SAMPLES } from './growth.js';
import { parseSoakOptions } from './options.js';

/** What steady load may add after the warm-up: beyond it, and rising throughout, is a leak. */
const ALLOWED_GROWTH_MIB = 32;
const ALLOWED_OTHER_KEYS = 100;

const USAGE = `spool soak — steady load for a long time, watching memory; then every event read back

  make soak                       30 minutes
  make soak ARGS="--duration 5m --every 30s --concurrency 10"
  make soak ARGS="--format parquet"   the flushers' OUTPUT_FORMAT: ndjson.gz (default), ndjson.zst or parquet

  Fails on any event lost or stored twice, and on memory that kept growing after the first third
  of the run (at least ${MIN_JUDGED_SAMPLES} samples): an ingest's or flusher's RSS by more than ${ALLOWED_GROWTH_MIB} MiB,
  Redis's other keys by more than ${ALLOWED_OTHER_KEYS}. Redis's RSS and used memory are shown, not judged:
  the dedupe sets fill for DEDUPE_WINDOW and half again, and the buffers up to their thresholds.
`;
const say = (line: string) => process.stderr.write(`${line}\n`);

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

/** Keys that are not a stream's buffers: they must not pile up under steady load. */
async function otherKeys(redis: Redis): Promise<number> {
  let count = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 5_000);
    cursor = next;
    count += keys.filter((key) => !/:(buf|since|gen|stats|pending|sealed-bytes)$/.test(key)).length;
  } while (cursor !== '0');
  return count;
}

async function main(): Promise<number> {
  const options = parseSoakOptions(process.argv.slice(2));
  if ('help' in options) {
    process.stdout.write(USAGE);
    return 0;
  }
  if ('problem' in options) {
    say(`spool soak: ${options.problem}\n\n${USAGE}`);
    return 2;
  }
  const { durationMs, everyMs, concurrency, format } = options;
  const stack = await startChaosStack({ fsync: 'everysec', format });
  stopOnSignal(() => stack.stop());
  const redis = new Redis(stack.stack.redisUrl);
  try {
    const runId = `sk${Date.now().toString(36)}`;
    const streams = [`${runId}-a`, `${runId}-b`, `${runId}-c`];
    const stats = newLoadStats();
    const logs: ClientLog[] = [];
    const started = Date.now();
    const rows: Array<Array<string | number>> = [];
    // The judged measures, by name, one sample a row.
    const series = new Map<string, { samples: number[]; allowed: number; unit: string }>();
    const record = (name: string, value: number, allowed: number, unit: string) => {
      const entry = series.get(name) ?? { samples: [], allowed, unit };
      entry.samples.push(value);
      series.set(name, entry);
      return value;
    };
    const { ingests, flushers, redisServer } = stack.stack;
    const processes = [...ingests, ...flushers].map((service) => service.process);
    if (redisServer) processes.push(redisServer);
    const sample = async () => {
      const info = await redis.info('memory');
      const usedMiB = Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 2 ** 20;
      const latencies = stats.intervalLatencies.splice(0);
      const keys = await otherKeys(redis);
      rows.push([
        `${Math.round((Date.now() - started) / 1000)} s`,
        stats.accepted,
        percentile(latencies, 99).toFixed(0),
        // Spool's processes are judged; Redis's RSS follows its used memory, which the dedupe
        // sets grow for DEDUPE_WINDOW and half again: shown, not judged.
        ...processes.map((p) =>
          (p === redisServer
            ? rssMiB(p.pid)
            : record(`${p.name} RSS`, rssMiB(p.pid), ALLOWED_GROWTH_MIB, 'MiB')
          ).toFixed(0),
        ),
        usedMiB.toFixed(1),
        record('redis other keys', keys, ALLOWED_OTHER_KEYS, 'keys'),
      ]);
      say(`t=${rows.at(-1)?.[0]}  acknowledged ${stats.accepted}`);
    };
    const sampler = setInterval(() => void sample(), everyMs);
    await runLoad(
      {
        urls: stack.ingestUrls,
        runId,
        streams,
        concurrency,
        eventsPerRequest: 10,
        eventBytes: 200,
        done: () => Date.now() - started >= (durationMs as number),
      },
      stats,
      logs,
    );
    clearInterval(sampler);
    await sample();
    await flushNow(redis, 'spool', streams);
    await waitUntilLanded(redis, streams, { timeoutMs: 5 * 60_000 });
    // Every acknowledged event read back once, as the loadtest and the chaos run do.
    const v = await verify(stack.s3Client, { bucket: stack.bucket }, streams, runId, 10, logs);
    say(
      `\n${table([
        [
          'requests (202 / refused / errors)',
          `${stats.requests} (${stats.accepted} / ${stats.refused} / ${stats.errors})`,
        ],
        ['acknowledged events', v.acceptedLanded + v.missing],
        ['landed in S3, once', v.acceptedLanded],
        ['LOST', v.missing],
        ['DUPLICATED (copies by messageId)', v.duplicated],
        ['refused but stored', v.refusedFound],
        ['IN ANOTHER STREAM', v.misplaced],
        ['streams in Redis', await redis.zcard(streamRegistryKey())],
      ])}\n`,
    );
    const problems = runProblems(stats, v);
    const sampled = rows.length;
    if (sampled < MIN_JUDGED_SAMPLES) {
      say(
        `memory NOT JUDGED: ${sampled} samples, at least ${MIN_JUDGED_SAMPLES} needed (a longer --duration or a shorter --every)`,
      );
    }
    for (const [name, { samples, allowed, unit }] of series) {
      const growth = growthPast(samples, allowed);
      if (growth) {
        problems.push(
          `${name} kept growing after the warm-up: from ${growth.from.toFixed(0)} to ${growth.to.toFixed(0)} ${unit} (medians of the run's second third and last third; every later sample above every earlier one)`,
        );
      }
    }
    const header = [
      'time',
      'acknowledged',
      'p99 ms',
      ...processes.map((p) => `${p.name} RSS MiB`),
      'redis used MiB',
      'other keys',
    ];
    process.stdout.write(`| ${header.join(' | ')} |\n| ${header.map(() => '---').join(' | ')} |\n`);
    for (const row of rows) process.stdout.write(`| ${row.join(' | ')} |\n`);
    for (const problem of problems) say(problem);
    say(problems.length === 0 ? 'OK' : 'FAILED');
    return problems.length === 0 ? 0 : 1;
  } finally {
    redis.disconnect();
    await stack.stop();
  }
}

process.exit(await main());
