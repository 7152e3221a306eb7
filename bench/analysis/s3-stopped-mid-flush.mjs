// How long a flush attempt takes to give up on an S3 that stops answering mid-upload, and that
// the generation still lands once when it is back: a 64 MiB generation is flushed by a flusher
// with S3_TIMEOUT=3s, and the S3 stand-in is stopped (SIGSTOP) 0.4 s in, for `seconds`, then
// continued. The services' log lines (LOG_LEVEL=info) go to stderr with their times: each failed
// attempt, each retry, the landing. The AWS SDK tries a request three times before the flush
// sees it fail, so an attempt takes about three S3_TIMEOUTs (docs/reliability.md).
// Not a scenario of `make bench`. Usage: node bench/analysis/s3-stopped-mid-flush.mjs [seconds=40]
import { execFileSync } from 'node:child_process';
import { addFlushJob, FLUSH_QUEUE, queuePrefix, streamKeys } from '@spool/shared';
import { Queue } from 'bullmq';
import { fillStreamBuffer, startFlusher, startStack, stopAll, until } from '../lib.mjs';

const seconds = Number(process.argv[2] ?? 40);
process.env.SPOOL_BENCH_LOGS = '1';
const bench = await startStack({ s3: true });
const { port } = new URL(bench.stack.s3.endpoint);
// The stand-in's process: the one listening on its port.
const listening = execFileSync('ss', ['-ltnpH', `sport = :${port}`]).toString();
const pid = /pid=(\d+)/.exec(listening)?.[1];
if (!pid) throw new Error(`no process listens on the S3 stand-in's port ${port}`);
const stream = 'stopped';
const { lines } = await fillStreamBuffer(bench, stream, 64 * 2 ** 20);
await startFlusher(bench, {
  FLUSH_INTERVAL: '10m',
  FLUSH_THRESHOLD_BYTES: '480MiB',
  MAX_BUFFER_BYTES: '512MiB',
  S3_TIMEOUT: '3s',
  FLUSH_RETRY_BASE: '100ms',
  FLUSH_RETRY_MAX: '500ms',
});
const say = (line) => process.stderr.write(`${performance.now().toFixed(0)} ${line}\n`);
const queue = new Queue(FLUSH_QUEUE, { connection: bench.redis, prefix: queuePrefix() });
const started = performance.now();
await addFlushJob(queue, stream, 0);
setTimeout(() => {
  process.kill(Number(pid), 'SIGSTOP');
  say('S3 stand-in stopped');
}, 400);
setTimeout(
  () => {
    process.kill(Number(pid), 'SIGCONT');
    say('S3 stand-in continued');
  },
  400 + seconds * 1000,
);
await until(
  'landed',
  async () => (await bench.redis.hget(streamKeys(stream).stats, 'landed')) === String(lines),
  600_000,
);
say(`landed, once, ${((performance.now() - started) / 1000).toFixed(1)} s after the flush job`);
await queue.close();
bench.redis.disconnect();
await stopAll();
