// j. Flusher, OUTPUT_FORMAT=ndjson.zst: time and peak RSS to flush a 256 MiB buffer to S3,
//    against `zstd -T0 -3` of the same bytes, from a file, to /dev/null (zstd on every core, at
//    the flusher's level). Target: >= 0.8 x zstd -T0, peak RSS under 200 MiB. The flusher's zstd runs on one
//    core (docs/output.md says why), so on N cores expect about 1/N of the baseline.
import { compressBufferWith, fillStreamBuffer, flushWithFlusher, markdown, startStack } from './lib.mjs';

const MiB = 1024 * 1024;
const TARGET = 0.8;

export async function run({ bytes = 256 * MiB } = {}) {
  const bench = await startStack({ s3: true });
  const stream = 'bench-j';
  const { length, lines } = await fillStreamBuffer(bench, stream, bytes);
  const zstdAllSeconds = await compressBufferWith(bench, stream, length, 'zstd', ['-T0', '-3', '-q', '-c']);
  const zstdOneSeconds = await compressBufferWith(bench, stream, length, 'zstd', ['-T1', '-3', '-q', '-c']);
  const flush = await flushWithFlusher(bench, stream, lines, { OUTPUT_FORMAT: 'ndjson.zst' });
  bench.redis.disconnect();

  const mbps = (seconds) => length / MiB / seconds;
  const ratio = mbps(flush.seconds) / mbps(zstdAllSeconds);
  return {
    name: 'j. flusher (zstd) vs zstd -T0',
    target: `flusher >= ${TARGET} x zstd -T0, peak RSS < 200 MiB`,
    ratio,
    met: ratio >= TARGET && flush.peakRss < 200,
    bytes: length,
    zstdAllSeconds,
    zstdOneSeconds,
    flushSeconds: flush.seconds,
    baselineRss: flush.idleRss,
    peakRss: flush.peakRss,
    markdown: markdown(
      `j. Flushing a ${Math.round(length / MiB)} MiB buffer as ndjson.zst`,
      ['', 'seconds', 'MiB/s', 'RSS MiB'],
      [
        [
          'zstd -T0 -3 (every core) of the same bytes (from a file)',
          zstdAllSeconds.toFixed(2),
          mbps(zstdAllSeconds).toFixed(1),
          '',
        ],
        ['zstd -T1 -3 (one core)', zstdOneSeconds.toFixed(2), mbps(zstdOneSeconds).toFixed(1), ''],
        [
          'spool flusher to S3 (seal, summary + zstd in one read, upload, release)',
          flush.seconds.toFixed(2),
          mbps(flush.seconds).toFixed(1),
          `${flush.idleRss.toFixed(0)} idle, ${flush.peakRss.toFixed(0)} peak`,
        ],
        [`ratio to zstd -T0 (target >= ${TARGET}; peak RSS < 200 MiB)`, '', ratio.toFixed(2), ''],
        ['ratio to zstd -T1', '', (mbps(flush.seconds) / mbps(zstdOneSeconds)).toFixed(2), ''],
      ],
    ),
  };
}
