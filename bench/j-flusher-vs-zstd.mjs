// j. Flusher, OUTPUT_FORMAT=ndjson.zst: time and peak RSS to flush a 256 MiB buffer of
//    real-looking events to S3, against `zstd -T0 -3` of the same bytes, from a file, to
//    /dev/null (zstd on every core, at the flusher's level), and `zstd -T1` for reference.
//    Target: >= 0.8 x zstd -T0, peak RSS under 200 MiB. The flusher's zstd runs on one core
//    (docs/output.md says why).
import { flushScenario } from './lib.mjs';

export function run() {
  return flushScenario({
    id: 'j',
    name: 'j. flusher (zstd) vs zstd -T0',
    format: 'ndjson.zst',
    baselines: [
      { label: 'zstd -T0 -3 (every core)', command: 'zstd', args: ['-T0', '-3', '-q', '-c'] },
      { label: 'zstd -T1 -3 (one core)', command: 'zstd', args: ['-T1', '-3', '-q', '-c'] },
    ],
  });
}
