import { describe, expect, it } from '@jest/globals';
import { OLDEST_NODE, oldNodeProblem } from './node-version.js';

describe('oldNodeProblem', () => {
  it("refuses a Node.js older than package.json's engines, and takes this one and later ones", () => {
    expect(oldNodeProblem('v20.20.2')).toBe('needs Node.js 22.15 or later; this is v20.20.2');
    expect(oldNodeProblem('v22.14.0')).toBe('needs Node.js 22.15 or later; this is v22.14.0');
    for (const version of ['v22.15.0', 'v22.21.1', 'v23.0.0', 'v24.21.0', 'v100.0.0', process.version]) {
      expect({ version, problem: oldNodeProblem(version) }).toEqual({ version, problem: undefined });
    }
  });

  it('says the same as the packages', async () => {
    const { readFile } = await import('node:fs/promises');
    for (const path of [
      '../../../package.json',
      '../../../apps/ingest/package.json',
      '../../../apps/flusher/package.json',
      '../../../tools/cli/package.json',
    ]) {
      const { engines } = JSON.parse(await readFile(new URL(path, import.meta.url), 'utf8')) as {
        engines: { node: string };
      };
      expect({ path, node: engines.node }).toEqual({ path, node: `>=${OLDEST_NODE}` });
    }
  });
});
