// d. Flusher, OUTPUT_FORMAT=ndjson.gz: time and peak RSS to flush a 256 MiB buffer of
//    real-looking events to S3, against `pigz -p <cores>` of the same bytes, from a file, to
//    /dev/null (gzip's limit on this machine's cores), and one-core gzip for reference. Target:
//    >= 0.8 x pigz, peak RSS under 200 MiB. (Until 2026-12-01: one-core gzip, on 50:1 data.)
import { availableParallelism } from 'node:os';
import { flushScenario } from './lib.mjs';

export function run() {
  const cores = String(availableParallelism());
  return flushScenario({
    id: 'd',
    name: 'd. flusher (gzip) vs pigz',
    format: 'ndjson.gz',
    baselines: [
      { label: `pigz -p ${cores} -6`, command: 'pigz', args: ['-p', cores, '-6', '-c'] },
      { label: 'gzip -6 (one core)', command: 'gzip', args: ['-6', '-c'] },
    ],
  });
}
