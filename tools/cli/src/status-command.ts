import { once } from 'node:events';
import type { Status } from '@spool/flusher/dist/status/status.js';
import { statusReader } from '@spool/flusher/dist/status/status.js';
import {
  escapeActing,
  FLUSH_QUEUE,
  type FlushJobData,
  loadConfig,
  QUEUE_CONNECTION_OPTIONS,
  queuePrefix,
} from '@spool/shared';
import { Queue } from 'bullmq';
import { environmentForCommands } from './command-environment.js';
import { fail, type OptionValues } from './command-line.js';
import { READ_TIMEOUT_MS, withinDeadline } from './deadline.js';
import { namespaceOption } from './option-values.js';
import { connectTarget } from './redis-target.js';
import { renderStatus } from './status-table.js';
import { sleep, stopSignal } from './stop-signal.js';

/** Where the status is read from: a reading, what it has read so far, and how to let go. */
interface StatusSource {
  read(): Promise<Status>;
  /** What a reading under way has read so far (streams), where the command reads Redis itself. */
  progress?: () => number | undefined;
  close(): Promise<void>;
  /** What the view reads from, and how a deadline's error names it. */
  readsFrom: string;
  source: string;
}

/** `spool status`: a live table of the pipeline, from a flusher's /status.json or from Redis. */
export async function status(values: OptionValues): Promise<void> {
  // Digits only: Number() read "0x10" as 16 and " 5" as 5.
  const limit = /^\d{1,4}$/.test(values.limit) ? Number(values.limit) : Number.NaN;
  if (!(limit >= 1 && limit <= 1000)) fail('--limit: expected a whole number from 1 to 1000');
  const { read, progress, close, readsFrom, source } =
    values.redis || values.cluster ? fromRedis(values, limit) : fromFlusher(values, limit);
  const live = process.stdout.isTTY && !values.once;
  const signal = stopSignal();
  try {
    // A reading may take seconds (a Redis of many streams, a flusher far away): the terminal says
    // what it waits for rather than stay blank until the first table.
    if (live) process.stdout.write(`\x1b[H\x1b[2Jreading the status from ${readsFrom}…\n`);
    do {
      let lines: string[];
      try {
        const answer = await withinDeadline(read(), { ms: READ_TIMEOUT_MS, signal, source, progress });
        if (answer === undefined) break; // stopped
        // A terminal that reports no size (a pty left at 0×0) has 0 columns: 120 then, as for a pipe.
        lines = renderStatus(answer, { width: process.stdout.columns || 120, color: live && !noColor() });
      } catch (error) {
        if (!live) throw error;
        // The flusher's words, or anyone's on the way to a plain-http one.
        lines = [`cannot read the status: ${escapeActing((error as Error).message)}`];
      }
      // On a terminal: clear and redraw in place; into a pipe: one plain snapshot.
      process.stdout.write(`${live ? '\x1b[H\x1b[2J' : ''}${lines.join('\n')}\n`);
      if (live) await sleep(2_000, signal);
    } while (live && !signal.aborted);
  } finally {
    await close();
  }
}

/** The status read from Redis itself (--redis, --cluster), as a flusher reads it. */
function fromRedis(values: OptionValues, limit: number): StatusSource {
  const readsFrom = values.cluster ? 'the Redis Cluster' : 'Redis';
  const namespace = namespaceOption(values);
  const redis = connectTarget(values);
  const queue = new Queue<FlushJobData>(FLUSH_QUEUE, {
    ...QUEUE_CONNECTION_OPTIONS,
    connection: redis,
    prefix: queuePrefix(namespace),
  });
  // Its connection's errors, a line a retry, are the read's to report (once, or its deadline's).
  queue.on('error', () => {});
  // Thresholds and intervals as the flusher reads them, from this environment (the Redis and S3
  // settings are not used here).
  const config = loadConfig(
    { ...environmentForCommands(), S3_BUCKET: 'unused', REDIS_NAMESPACE: namespace },
    'flusher',
  );
  const readStatus = statusReader({ redis, queue, config });
  return {
    readsFrom,
    source: values.cluster ? `${readsFrom} (is it one?)` : readsFrom,
    progress: readStatus.readingProgress,
    read: async () => {
      // A cluster client reads its nodes once ready: before, it knows no master to ask.
      if (redis.status !== 'ready') await once(redis, 'ready');
      return readStatus(limit);
    },
    close: async () => {
      // A Redis never reached (a cluster that is not one) would hold the queue's close for good.
      await Promise.race([queue.close(), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
      redis.disconnect();
    },
  };
}

/** The status a flusher serves at /status.json (--url), with SPOOL_ADMIN_KEY when it wants one. */
function fromFlusher(values: OptionValues, limit: number): StatusSource {
  const base = values.url ?? 'http://127.0.0.1:9091';
  if (!/^https?:$/.test(URL.parse(base)?.protocol ?? '')) {
    fail("--url: expected the flusher's http:// or https:// URL, such as http://127.0.0.1:9091");
  }
  const url = new URL('status.json', `${base.replace(/\/?$/, '/')}`);
  // fetch refuses such a URL, and its error repeats the URL, key included.
  if (url.username || url.password) fail('--url: put the admin key in SPOOL_ADMIN_KEY, not in the URL');
  const readsFrom = `the flusher at ${url.origin}`;
  url.searchParams.set('limit', String(limit));
  const key = process.env.SPOOL_ADMIN_KEY;
  return {
    readsFrom,
    source: readsFrom,
    close: async () => {},
    read: async () => {
      const answer = await fetch(url, {
        headers: key ? { authorization: `Bearer ${key}` } : {},
        signal: AbortSignal.timeout(READ_TIMEOUT_MS),
      }).catch((error: Error) => {
        throw new Error(
          `cannot reach the flusher at ${url.origin} (${error.message}): is it running? --url says where`,
        );
      });
      if (answer.status === 401) {
        throw new Error(
          key
            ? `${url.origin} refused SPOOL_ADMIN_KEY: it is not one of the flusher's ADMIN_KEYS`
            : `${url.origin} wants an admin key: set SPOOL_ADMIN_KEY`,
        );
      }
      // The flusher is there; its Redis is not (a 503 says so), or its open views take no name (403).
      if (answer.status === 503 || answer.status === 403)
        throw new Error(`${url.origin}: ${((await answer.json()) as { message: string }).message}`);
      if (!answer.ok) throw new Error(`${url} answered ${answer.status}`);
      return (await answer.json()) as Status;
    },
  };
}

/** NO_COLOR (https://no-color.org), set and not empty: no colours, on a terminal too. */
const noColor = () => Boolean(process.env.NO_COLOR);
