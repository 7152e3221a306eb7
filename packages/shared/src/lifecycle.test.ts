import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from '@jest/globals';

/** A process that stops on signals as the services do, with a shutdown that never ends. */
const STUCK_SHUTDOWN = `
  import { createLogger, stopOnSignals } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
  const logger = createLogger('spool-test', 'info');
  stopOnSignals(logger, 200, () => new Promise(() => {}), () => ({ abandonedJobs: ['flush:web:3'] }));
  setInterval(() => {}, 1000);
  console.log('ready');
`;

describe('stopOnSignals', () => {
  it('exits 1 when the shutdown outlasts its grace, logging what was left unfinished', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', STUCK_SHUTDOWN], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.setEncoding('utf8');
    const ready = new Promise<void>((resolve) =>
      child.stdout.on('data', (text: string) => {
        output += text;
        if (output.includes('ready')) resolve();
      }),
    );
    const exited = once(child, 'exit');
    await ready;
    child.kill('SIGTERM');
    const [code] = await exited;
    expect(code).toBe(1);
    const lines = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => line.msg)).toEqual(['shutting down', 'shutdown took too long; exiting']);
    expect(lines[1]).toMatchObject({ graceMs: 200, abandonedJobs: ['flush:web:3'] });
  });
});
