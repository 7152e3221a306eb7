// zstd in Node 24's zlib stream, as the flusher would run it on a 256 MiB generation of the
// benches' real-looking events: one core (the flusher's way), and libzstd's worker threads
// (ZSTD_c_nbWorkers) with each write flushed (ZSTD_e_flush) or not (ZSTD_e_continue, which pushes
// output after the stream's end: ERR_STREAM_PUSH_AFTER_EOF), against `zstd -T0 -3` and
// `zstd -T1 -3` of the same file. Prints time and output size for each (the flusher's memory with
// workers is bench j's to measure: this process holds the events it wrote).
// Not a scenario of `make bench`; an analysis of whether the flusher's zstd should use workers.
// Usage: node bench/analysis/zstd-workers.mjs [MiB=256]
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { constants, createZstdCompress } from 'node:zlib';
import { tempDir } from '../lib.mjs';

const MiB = 1024 * 1024;
const size = Number(process.argv[2] ?? 256) * MiB;
const file = `${tempDir('zstd')}/buffer.ndjson`;
const lines = [];
for (let index = 0, bytes = 0; bytes < size; index++) {
  const line = `${JSON.stringify({
    event: ['page', 'track', 'identify'][index % 3],
    userId: `u-${index % 5000}`,
    properties: { path: `/p/${index % 300}`, amount: index % 97, token: randomBytes(24).toString('base64') },
    context: { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120', locale: 'en-US' },
    receivedAt: new Date(1_796_000_000_000 + index * 37).toISOString(),
    messageId: randomBytes(16).toString('hex'),
  })}\n`;
  lines.push(line);
  bytes += line.length;
}
writeFileSync(file, lines.join(''));
lines.length = 0;

/** One compression of the file through a zstd stream, `chunkMiB` a write. */
async function viaStream({ workers, flush, chunkMiB, jobMiB }) {
  const params = { [constants.ZSTD_c_compressionLevel]: 3, [constants.ZSTD_c_checksumFlag]: 1 };
  if (workers > 0) params[constants.ZSTD_c_nbWorkers] = workers;
  if (jobMiB) params[constants.ZSTD_c_jobSize] = jobMiB * MiB;
  const stream = createZstdCompress({ chunkSize: MiB, flush, params });
  let out = 0;
  let failure;
  stream.on('data', (piece) => {
    out += piece.length;
  });
  stream.on('error', (error) => {
    failure ??= error;
  });
  const fd = openSync(file, 'r');
  const buffer = Buffer.allocUnsafe(chunkMiB * MiB);
  const started = performance.now();
  try {
    for (let position = 0; ; ) {
      const read = readSync(fd, buffer, 0, buffer.length, position);
      if (read === 0) break;
      position += read;
      await new Promise((resolve, reject) =>
        stream.write(Buffer.from(buffer.subarray(0, read)), (error) => (error ? reject(error) : resolve())),
      );
    }
    const ended = once(stream, 'end');
    stream.end();
    await Promise.race([ended, once(stream, 'error')]);
  } catch (error) {
    failure ??= error;
  } finally {
    closeSync(fd);
  }
  const ms = performance.now() - started;
  return failure ? `failed: ${failure.code ?? failure.message}` : `${ms.toFixed(0)} ms, ${out} bytes`;
}

function viaCli(threads) {
  const started = performance.now();
  const run = spawnSync('zstd', [`-T${threads}`, '-3', '-q', '-c', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 2 * size,
  });
  return `${(performance.now() - started).toFixed(0)} ms, ${run.stdout.length} bytes`;
}

const sides = [
  [
    'node, one core (the flusher), 4 MiB writes',
    () => viaStream({ workers: 0, flush: constants.ZSTD_e_continue, chunkMiB: 4 }),
  ],
  [
    'node, 2 workers, ZSTD_e_continue, 4 MiB writes',
    () => viaStream({ workers: 2, flush: constants.ZSTD_e_continue, chunkMiB: 4 }),
  ],
  [
    'node, 2 workers, ZSTD_e_flush, 4 MiB writes',
    () => viaStream({ workers: 2, flush: constants.ZSTD_e_flush, chunkMiB: 4 }),
  ],
  [
    'node, 2 workers, ZSTD_e_flush, 4 MiB writes, 1 MiB jobs',
    () => viaStream({ workers: 2, flush: constants.ZSTD_e_flush, chunkMiB: 4, jobMiB: 1 }),
  ],
  [
    'node, 2 workers, ZSTD_e_flush, 16 MiB writes',
    () => viaStream({ workers: 2, flush: constants.ZSTD_e_flush, chunkMiB: 16 }),
  ],
  ['zstd -T0 -3', () => viaCli(0)],
  ['zstd -T1 -3', () => viaCli(1)],
];
console.log(
  `${(size / MiB).toFixed(0)} MiB of events; zstd ${execFileSync('zstd', ['--version']).toString().trim()}`,
);
for (let round = 0; round < 2; round++) {
  for (const [label, run] of sides) console.log(`${round} ${label.padEnd(48)} ${await run()}`);
}
rmSync(file);
