import { once } from 'node:events';
import {
  escapeActing,
  parseShardUnit,
  type RedisClient,
  type StreamKeys,
  streamKeys,
  streamRegistryKey,
} from '@spool/shared';
import { fail, type OptionValues } from './command-line.js';
import { READ_TIMEOUT_MS, withinDeadline } from './deadline.js';
import { followStream } from './follow-stream.js';
import { namespaceOption } from './option-values.js';
import { connectTarget } from './redis-target.js';
import { drained, stopSignal } from './stop-signal.js';
import { cutToColumns } from './terminal-text.js';

/** Streams named when a tail's stream is unknown: enough to spot a typo. */
const KNOWN_STREAMS_SHOWN = 10;

/** `spool tail STREAM`: the stream's events as they are appended, NDJSON on stdout. */
export async function tail(values: OptionValues, [stream]: string[]): Promise<void> {
  // Without this, a name no stream can have would be waited on for ever, in silence. A sharded
  // stream's shards are tailed one by one: web, web#1, web#2, ...
  if (!stream || !parseShardUnit(stream)) {
    fail(
      `tail: expected a stream name (1 to 64 of a-z, 0-9, "_" and "-", starting with a letter or digit), or a shard as web#1${stream ? `; got "${escapeActing(stream.slice(0, 80).toWellFormed())}"` : ''}`,
    );
  }
  const namespace = namespaceOption(values);
  const keys = streamKeys(stream, namespace);
  const redis = connectTarget(values);
  const signal = stopSignal();
  const width = process.stdout.isTTY ? process.stdout.columns : undefined;
  try {
    // A cluster client queues its commands until it has read the slots, for good when no node
    // answers: the tail waited in silence, Ctrl-C and SIGTERM unheard. One Redis's commands fail
    // after their retries instead ("cannot reach Redis").
    if (redis.status !== 'ready' && 'nodes' in redis) {
      const ready = once(redis, 'ready').then(() => true);
      const source = 'the Redis Cluster (is it one, and up? --cluster or REDIS_CLUSTER_NODES say where)';
      if ((await withinDeadline(ready, { ms: READ_TIMEOUT_MS, signal, source })) === undefined) return;
    }
    await sayIfUnknown(redis, stream, keys, namespace);
    for await (const step of followStream(redis, keys, {
      fromStart: values['from-start'],
      signal,
    })) {
      if (step.kind === 'skipped') {
        process.stderr.write(
          `spool tail: generation ${step.gen} landed before its bytes from ${step.fromByte} were read; they are in its S3 object\n`,
        );
        continue;
      }
      if (step.kind === 'skippedGenerations') {
        const what =
          step.from === step.to
            ? `generation ${step.from} landed before any of it was read; it is in S3`
            : `generations ${step.from} to ${step.to} landed before any of them was read; they are in S3`;
        process.stderr.write(`spool tail: ${what}\n`);
        continue;
      }
      if (step.kind === 'restarted') {
        process.stderr.write(
          `spool tail: the buffer went back (now generation ${step.gen}, without the ${step.fromByte} bytes read: Redis lost writes, or it was emptied); following it from its start\n`,
        );
        continue;
      }
      // On a terminal a line is cut to its width; into a pipe, whole (for jq and the like).
      const text = step.lines.map((line) => {
        const safe = escapeActing(line);
        return width ? cutToColumns(safe, width) : safe;
      });
      if (!process.stdout.write(`${text.join('\n')}\n`)) await drained(signal);
    }
  } finally {
    redis.disconnect();
  }
}

/**
 * A stream this namespace has never had (a typo, another namespace) is said once on stderr, with
 * streams it has, before the tail waits for its first event: a wrong name was waited on in silence.
 * A Redis that does not answer here is the tail's to report.
 */
async function sayIfUnknown(redis: RedisClient, stream: string, keys: StreamKeys, namespace: string) {
  const registry = streamRegistryKey(namespace);
  try {
    const [registered, buffered] = await Promise.all([
      redis.zscore(registry, stream),
      redis.exists(keys.buf),
    ]);
    if (registered !== null || buffered > 0) return;
    const known = await redis.zrevrange(registry, 0, KNOWN_STREAMS_SHOWN - 1);
    const some = known.length === 0 ? 'it has none yet' : `it has ${known.map(escapeActing).join(', ')}`;
    process.stderr.write(
      `spool tail: namespace ${namespace} has no stream "${stream}" yet (${some}); waiting for its first event\n`,
    );
  } catch {}
}
