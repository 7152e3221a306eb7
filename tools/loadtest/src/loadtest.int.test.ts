import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

describe('spool loadtest', () => {
  it('runs load against a stack of its own, reads every object back and reports zero loss and zero duplicates', async () => {
    const out = await mkdtemp(join(tmpdir(), 'loadtest-out-'));
    const { stderr } = await promisify(execFile)(
      process.execPath,
      [
        CLI,
        '--requests',
        '300',
        '--concurrency',
        '10',
        '--events-per-request',
        '20',
        '--streams',
        '2',
        '--out',
        out,
      ],
      { timeout: 120_000 },
    );
    const file = /summary written to (\S+\.json)/.exec(stderr)?.[1] as string;
    const summary = JSON.parse(readFileSync(file, 'utf8'));
    expect(summary).toMatchObject({ requests: 300, accepted: 300, errors: 0 });
    expect(summary.verification).toMatchObject({
      landedEvents: 6_000,
      acceptedLanded: 6_000,
      missing: 0,
      duplicated: 0,
      refusedFound: 0,
      foreign: 0,
    });
    expect(stderr).toContain('OK: summary written');
  });
});
