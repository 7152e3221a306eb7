import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { childOutput } from '@spool/testkit/child-output';

/** A process that stops on signals as the services do, with a shutdown that never ends. */
const STUCK_SHUTDOWN = `
  import { createLogger, stopOnSignals } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
  const logger = createLogger('spool-test', 'info');
  stopOnSignals(logger, 200, () => new Promise(() => {}), () => ({ abandonedJobs: ['flush:web:3'] }));
  setInterval(() => {}, 1000);
  console.log('ready');
`;

/** A process whose shutdown ends at once, with a timer left running (a library's). */
const TIMER_LEFT = `
  import { createLogger, stopOnSignals } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
  const logger = createLogger('spool-test', 'info');
  stopOnSignals(logger, 300, async () => {});
  setInterval(() => {}, 1000);
  console.log('ready');
`;

/** A process whose shutdown never ends, and that nothing else holds once the signal comes. */
const STOP_NEVER_ENDS = `
  import { createLogger, stopOnSignals } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
  const logger = createLogger('spool-test', 'info');
  stopOnSignals(logger, 600_000, () => new Promise(() => {}));
  const alive = setInterval(() => {}, 1000);
  process.once('SIGTERM', () => clearInterval(alive));
  console.log('ready');
`;

/** Runs `source`, sends SIGTERM once it is ready, and gives its exit code and JSON log lines. */
async function stoppedBySigterm(source: string) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
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
  const lines = output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { code, lines };
}

describe('stopOnSignals', () => {
  it('exits 0 at the end of the grace when stopped and something still holds it (it exited 1, as if stuck)', async () => {
    const { code, lines } = await stoppedBySigterm(TIMER_LEFT);
    expect(code).toBe(0);
    expect(lines.map((line) => line.msg)).toEqual([
      'shutting down',
      'stopped',
      'stopped, but something still held the process; exiting',
    ]);
  });

  it('exits 1 when it runs out of work before its shutdown ends (it exited 0, never having said stopped)', async () => {
    const { code, lines } = await stoppedBySigterm(STOP_NEVER_ENDS);
    expect(code).toBe(1);
    expect(lines.map((line) => line.msg)).toEqual(['shutting down']);
  });

  it('exits 1 when the shutdown outlasts its grace, logging what was left unfinished', async () => {
    const { code, lines } = await stoppedBySigterm(STUCK_SHUTDOWN);
    expect(code).toBe(1);
    expect(lines.map((line) => line.msg)).toEqual(['shutting down', 'shutdown took too long; exiting']);
    expect(lines[1]).toMatchObject({ graceMs: 200, abandonedJobs: ['flush:web:3'] });
  });
});

/**
 * refuseClusterNode on a stand-in connection (ready at once) whose `INFO cluster` fails first with
 * `first` (a command timeout, or a refusal), then says it is a Cluster node. 1.5 s after the first
 * answer the process says how many times it was asked, and exits 0.
 */
const clusterNodeCheck = (first: string) => `
  import { EventEmitter } from 'node:events';
  import { refuseClusterNode } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
  const redis = Object.assign(new EventEmitter(), { status: 'ready', asked: 0 });
  redis.info = async () => {
    redis.asked += 1;
    if (redis.asked > 1) return 'cluster_enabled:1';
    const error = new Error(${JSON.stringify(first)});
    if (error.message.startsWith('NOPERM')) error.name = 'ReplyError';
    throw error;
  };
  refuseClusterNode('ingest', redis);
  setTimeout(() => { console.log('asked ' + redis.asked); process.exit(0); }, 1_500);
`;

async function runClusterNodeCheck(first: string) {
  const { closed, out, err } = childOutput(
    spawn(process.execPath, ['--input-type=module', '-e', clusterNodeCheck(first)]),
  );
  return { code: await closed, stdout: out(), stderr: err() };
}

describe('refuseClusterNode', () => {
  it('asks again when INFO was not answered (a loaded run timed it out, and the ingest ran on a Cluster node)', async () => {
    expect(await runClusterNodeCheck('Command timed out')).toEqual({
      code: 78,
      stdout: '',
      stderr: expect.stringContaining(
        'REDIS_URL: a node of a Redis Cluster; name the cluster with REDIS_CLUSTER_NODES',
      ),
    });
  });

  it('does not ask again a Redis that refuses INFO (an ACL): no command a second for nothing', async () => {
    expect(await runClusterNodeCheck('NOPERM this user has no permissions to run the info command')).toEqual({
      code: 0,
      stdout: 'asked 1\n',
      stderr: '',
    });
  });
});
