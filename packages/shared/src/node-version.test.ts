import { readFile } from 'node:fs/promises';
import { describe, expect, it } from '@jest/globals';
import { missingNodeFeatures, NODE_ENGINES, oldNodeProblem } from './node-version.js';

describe('refusing an old Node.js', () => {
  it('names what the Node.js lacks, and this one lacks nothing', () => {
    expect(oldNodeProblem('v20.20.2', ["zlib's zstd", 'JSON.rawJSON'])).toBe(
      "needs Node.js 22.15 or later (23.8 or later in 23) for zlib's zstd and JSON.rawJSON; this is v20.20.2",
    );
    expect(oldNodeProblem('v23.7.0', ["zlib's zstd"])).toBe(
      "needs Node.js 22.15 or later (23.8 or later in 23) for zlib's zstd; this is v23.7.0",
    );
    expect(missingNodeFeatures()).toEqual([]);
    expect(oldNodeProblem(process.version, missingNodeFeatures())).toBeUndefined();
  });

  it("says what every package's engines say", async () => {
    for (const path of [
      '../../../package.json',
      '../../../apps/ingest/package.json',
      '../../../apps/flusher/package.json',
      '../../../tools/cli/package.json',
      '../../../tools/loadtest/package.json',
      '../../../packages/shared/package.json',
      '../../../packages/testkit/package.json',
    ]) {
      const { engines } = JSON.parse(await readFile(new URL(path, import.meta.url), 'utf8')) as {
        engines: { node: string };
      };
      expect({ path, node: engines.node }).toEqual({ path, node: NODE_ENGINES });
    }
  });
});
