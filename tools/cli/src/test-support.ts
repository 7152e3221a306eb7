import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { flushGeneration } from '@spool/flusher/dist/flush-generation.js';
import { createFlusherMetrics } from '@spool/flusher/dist/metrics.js';
import {
  appendToBuffer,
  loadConfig,
  type OutputFormat,
  type RedisClient,
  registerStream,
  streamKeys,
  streamRegistryKey,
} from '@spool/shared';
import { childOutput, flusherTestEnv, randomName, withoutSpoolSettings } from '@spool/testkit';
import { pino } from 'pino';

/** The built `spool` command. */
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** Runs `spool <command> <args>` as a user does, with `env` for its settings (none of the shell's). */
export function runCli(command: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, command, ...args], {
    env: { ...withoutSpoolSettings(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { closed: exited, out, err } = childOutput(child);
  return { child, exited, out, err };
}

/** The environment that points the command at the test S3, under `prefix`. */
export const s3Env = (prefix: string) => flusherTestEnv({ S3_PREFIX: prefix });

/**
 * `count` generations of a new stream (`eventsEach` events each) flushed as the flusher does:
 * objects, metadata and the day's manifest, in `format` (given a list, generation n is written in
 * its nth format). Resolves with the stream, the day and the keys.
 */
export async function landGenerations(
  redis: RedisClient,
  s3: S3Client,
  prefix: string,
  count: number,
  eventsEach = 50,
  format: OutputFormat | OutputFormat[] = 'ndjson.gz',
): Promise<{ stream: string; day: string; keys: string[] }> {
  const stream = randomName('web');
  const keys = streamKeys(stream);
  await registerStream(redis, streamRegistryKey(), stream);
  const common = { redis, s3, logger: pino({ level: 'silent' }), metrics: createFlusherMetrics() };
  const depsOf = (gen: number) => {
    const OUTPUT_FORMAT = Array.isArray(format) ? (format[gen] as OutputFormat) : format;
    return { ...common, config: loadConfig({ ...s3Env(prefix), OUTPUT_FORMAT }, 'flusher') };
  };
  const landed: string[] = [];
  // Every generation dated from the first one's start, a millisecond apart: all in one day's
  // manifest even when the run crosses midnight.
  const since = Date.now();
  for (let gen = 0; gen < count; gen += 1) {
    const lines = Array.from(
      { length: eventsEach },
      (_, n) => `${JSON.stringify({ gen, n, event: 'page', receivedAt: new Date().toISOString() })}\n`,
    );
    await appendToBuffer(redis, keys, {
      chunk: lines.join(''),
      eventCount: lines.length,
      maxBytes: 1e9,
      dedupeWindowMs: 0,
      clientIds: { ids: [], lines: [] },
    });
    await redis.set(keys.since, String(since + gen));
    const outcome = await flushGeneration(depsOf(gen), stream, gen);
    if (outcome.status !== 'uploaded') throw new Error('nothing uploaded');
    landed.push(outcome.key);
  }
  return { stream, day: /dt=([\d-]+)/.exec(landed[0] as string)?.[1] as string, keys: landed };
}
