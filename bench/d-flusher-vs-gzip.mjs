// d. Flusher, OUTPUT_FORMAT=ndjson.gz: time and peak RSS to flush a 256 MiB buffer to S3, against
//    `pigz -p <cores>` of the same bytes, from a file, to /dev/null (gzip's limit on this machine's cores), and
//    plain single-threaded gzip for reference. Target: >= 0.8 x pigz throughput, peak RSS under
//    200 MiB. (Until 2026-12-01 the target was against plain gzip; both ratios are reported.)
import { availableParallelism } from 'node:os';
import { compressBufferWith, fillStreamBuffer, flushWithFlusher, markdown, startStack } from './lib.mjs';

const MiB = 1024 * 1024;
const TARGET = 0.8;

export async function run({ bytes = 256 * MiB } = {}) {
  const bench = await startStack({ s3: true });
  const stream = 'bench-d';
  const { length, lines } = await fillStreamBuffer(bench, stream, bytes);
  const cores = String(availableParallelism());
  const pigzSeconds = await compressBufferWith(bench, stream, length, 'pigz', ['-p', cores, '-6', '-c']);
  const gzipSeconds = await compressBufferWith(bench, stream, length, 'gzip', ['-6', '-c']);
  const flush = await flushWithFlusher(bench, stream, lines, { OUTPUT_FORMAT: 'ndjson.gz' });
  bench.redis.disconnect();

  const mbps = (seconds) => length / MiB / seconds;
  const ratio = mbps(flush.seconds) / mbps(pigzSeconds);
  return {
    name: 'd. flusher (gzip) vs pigz',
    target: `flusher >= ${TARGET} x pigz -p ${cores}, peak RSS < 200 MiB`,
    ratio,
    met: ratio >= TARGET && flush.peakRss < 200,
    bytes: length,
    pigzSeconds,
    gzipSeconds,
    flushSeconds: flush.seconds,
    baselineRss: flush.idleRss,
    peakRss: flush.peakRss,
    markdown: markdown(
      `d. Flushing a ${Math.round(length / MiB)} MiB buffer as ndjson.gz`,
      ['', 'seconds', 'MiB/s', 'RSS MiB'],
      [
        [
          `pigz -p ${cores} of the same bytes (from a file)`,
          pigzSeconds.toFixed(2),
          mbps(pigzSeconds).toFixed(1),
          '',
        ],
        ['gzip (one core) of the same bytes', gzipSeconds.toFixed(2), mbps(gzipSeconds).toFixed(1), ''],
        [
          'spool flusher to S3 (seal, summary + parallel gzip in one read, upload, release)',
          flush.seconds.toFixed(2),
          mbps(flush.seconds).toFixed(1),
          `${flush.idleRss.toFixed(0)} idle, ${flush.peakRss.toFixed(0)} peak`,
        ],
        [`ratio to pigz (target >= ${TARGET}; peak RSS < 200 MiB)`, '', ratio.toFixed(2), ''],
        ['ratio to gzip (one core)', '', (mbps(flush.seconds) / mbps(gzipSeconds)).toFixed(2), ''],
      ],
    ),
  };
}
