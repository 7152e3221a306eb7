import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '@spool/shared';
import { containerMemoryLimit, flusherPeakBytes, memoryProblem } from './memory-budget.js';
import { GZIP_PARALLELISM } from './parallel-gzip.js';
import { CHUNK_BUFFERS, READ_CHUNK_BYTES } from './sealed-reader.js';

const MiB = 1024 * 1024;
const config = (env: Record<string, string> = {}) => loadConfig({ S3_BUCKET: 'b', ...env }, 'flusher');

describe('the flusher memory budget', () => {
  it('keeps the defaults well within the 512 Mi the Kubernetes manifest gives a flusher', () => {
    expect(flusherPeakBytes(config())).toBeLessThan(400 * MiB);
    expect(memoryProblem(config(), 512 * MiB)).toBeUndefined();
  });

  it('refuses 64 MiB parts at concurrency 2 in a 512 Mi container, naming both settings', () => {
    const settings = config({ S3_PART_SIZE: '64MiB' });
    const problem = memoryProblem(settings, 512 * MiB);
    // Idle, plus for each flush its 2 part buffers of 64 MiB and the pieces copied into them,
    // its read buffers and twice the compressor's chunks in flight (their numbers follow the cores).
    const expected = 128 + 2 * (4 * 64 + ((CHUNK_BUFFERS + 2 * GZIP_PARALLELISM) * READ_CHUNK_BYTES) / MiB);
    expect(problem).toMatch(
      new RegExp(
        `^S3_PART_SIZE \\(64 MiB\\) × FLUSH_CONCURRENCY \\(2\\): a flusher may hold about ${expected} MiB`,
      ),
    );
    expect(problem).toContain('memory limit of 512 MiB');
    expect(memoryProblem(settings, 2048 * MiB)).toBeUndefined();
  });

  it('counts DuckDB once when any stream writes Parquet, and still fits the defaults in 512 Mi', () => {
    const parquet = config({ OUTPUT_FORMAT: 'web:parquet,*:ndjson.gz' });
    expect(flusherPeakBytes(parquet) - flusherPeakBytes(config())).toBe(160 * MiB);
    expect(flusherPeakBytes(config({ OUTPUT_FORMAT: 'parquet', FLUSH_CONCURRENCY: '4' }))).toBe(
      flusherPeakBytes(config({ FLUSH_CONCURRENCY: '4' })) + 160 * MiB,
    );
    expect(memoryProblem(parquet, 512 * MiB)).toBeUndefined();
    expect(memoryProblem(parquet, 320 * MiB)).toMatch(
      /\+ 160 MiB for Parquet\), over this container's memory limit of 320 MiB/,
    );
  });

  it('has nothing to check against without a container limit', () => {
    expect(memoryProblem(config({ S3_PART_SIZE: '1GiB' }), undefined)).toBeUndefined();
  });
});

describe('containerMemoryLimit', () => {
  const files = (contents: Record<string, string>) => (path: string) => {
    const text = contents[path];
    if (text === undefined) throw new Error('ENOENT');
    return text;
  };

  it('reads cgroup v2, then v1', () => {
    expect(containerMemoryLimit(files({ '/sys/fs/cgroup/memory.max': '536870912\n' }))).toBe(512 * MiB);
    expect(
      containerMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '1073741824\n' })),
    ).toBe(1024 * MiB);
  });

  it('finds no limit where there is none', () => {
    expect(containerMemoryLimit(files({ '/sys/fs/cgroup/memory.max': 'max\n' }))).toBeUndefined();
    expect(
      containerMemoryLimit(files({ '/sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712' })),
    ).toBeUndefined();
    expect(containerMemoryLimit(files({}))).toBeUndefined();
  });
});
