#!/usr/bin/env node
// Its own subpath: the package's index loads Redis, BullMQ and the rest, which an old Node may
// not even parse, and which `spool --help` has no use for.
import { refuseOldNode } from '@spool/shared/node-version';
import { type Command, commandLine, type OptionValues } from './command-line.js';

refuseOldNode('spool');

/**
 * Each command's module, loaded once the command line is known to be good: the help and every
 * refusal of it answer in a tenth of a second, and a command loads only what it uses (tail no S3,
 * verify no BullMQ). All of them at start took 0.7 s of CPU before the first byte.
 */
const COMMAND_RUNS: Record<Command, () => Promise<(values: OptionValues, args: string[]) => Promise<void>>> =
  {
    tail: async () => (await import('./tail-command.js')).tail,
    status: async () => (await import('./status-command.js')).status,
    verify: async () => (await import('./verify-command.js')).verify,
    replay: async () => (await import('./replay-command.js')).replayCommand,
  };

/** What stopped a command, in words: tail and status read Redis, verify and replay S3. */
function failureOf(command: Command, error: Error): string {
  const unreachable =
    /max retries per request|ECONNREFUSED|Connection is closed|ENOTFOUND|EHOSTUNREACH/i.test(
      `${error.message} ${(error as NodeJS.ErrnoException).code ?? ''}`,
    );
  // ioredis's words for a cluster whose slots it cannot read: down, or no cluster at all.
  if (/Failed to refresh slots cache|ClusterAllFailedError/.test(error.message)) {
    return 'cannot read a Redis Cluster there (is it one, and up? --cluster or REDIS_CLUSTER_NODES say where)';
  }
  if (!unreachable) return error.message;
  if (command === 'verify' || command === 'replay') {
    const endpoint = process.env.S3_ENDPOINT;
    // Its origin only: never a path's or query's secrets.
    const where = endpoint && URL.canParse(endpoint) ? new URL(endpoint).origin : 'AWS';
    return `cannot reach S3 (${where}): is it running? S3_ENDPOINT says where`;
  }
  return 'cannot reach Redis (is it running? --redis, --cluster or REDIS_URL say where)';
}

// Progress and warnings go to stderr. A reader gone from it (`2>&1 | head`) must not kill a run
// between a copy and its manifest line: what is said there is lost, the work goes on.
process.stderr.on('error', () => {});

const { command, values, args } = commandLine();
try {
  const run = await COMMAND_RUNS[command]();
  await run(values, args);
  process.exit(process.exitCode ?? 0);
} catch (error) {
  // escapeActing is the package's index's: loaded by every command by now.
  const { escapeActing } = await import('@spool/shared');
  // Line by line: a configuration error lists its problems one to a line.
  const lines = failureOf(command, error as Error)
    .split('\n')
    .map(escapeActing);
  process.stderr.write(`spool ${command}: ${lines.join('\n')}\n`);
  process.exit(1);
}
