import { parseArgs } from 'node:util';

/**
 * The command line: what each command takes, the usage, and its refusals (exit 64). It loads
 * nothing but Node's own modules, so `spool --help` and a mistyped option answer at once; a
 * command's own modules (Redis, S3, BullMQ) are loaded once it is known (cli.ts).
 */
export const USAGE = `spool status [--url URL | --redis URL | --cluster host:port,...] [--namespace NS] [--limit N] [--once]
    A live table of the pipeline: every stream's buffer, age, sealed generations and rates, the
    queue, Redis. From a flusher's /status.json (--url; default http://127.0.0.1:9091; with
    ADMIN_KEYS set, put one in SPOOL_ADMIN_KEY), or straight from Redis (--redis, --cluster).
    Redraws every 2 s on a terminal; into a pipe it prints once, without colours.

spool tail STREAM [--redis URL | --cluster host:port,...] [--from-start] [--namespace NS]
    Prints the stream's events as they are appended (NDJSON, one per line), reading only the new
    bytes each time. A flush in the middle loses and repeats nothing, unless its generation lands
    before the tail read its end: the tail then says so on stderr. For a sharded stream, tail
    each shard: web, web#1, web#2, ...

spool verify --stream STREAM --day YYYY-MM-DD [--deep]
    Checks a day of a stream in S3 against its manifest (_manifests/) and the objects' metadata:
    none missing, none changed, none extra. --deep also reads every object (decompressed, hashed).
    S3 from the flusher's settings in the environment: S3_BUCKET, S3_PREFIX, S3_ENDPOINT, ...
    Exits 0 when the day is whole, 1 when it is not.

spool replay --stream STREAM --from YYYY-MM-DD --to YYYY-MM-DD --to-prefix PREFIX [--format F]
    Rewrites the stream's objects of those days (dt= partitions) under PREFIX, in format F
    (ndjson.gz, ndjson.zst or parquet; default OUTPUT_FORMAT's for the stream), with their
    manifests. An object already in F is copied as it is; Parquet objects replay only as parquet.
    A second run changes nothing; a run stopped (Ctrl-C, kill -9) picks up where it was.
    Progress on stderr.

Redis defaults to REDIS_URL or REDIS_CLUSTER_NODES from the environment (or their _FILE, the path of
a file holding it), then redis://127.0.0.1:6379
(make dev's is redis://127.0.0.1:6390). Ctrl-C stops any of them.`;

export function fail(message: string): never {
  process.stderr.write(`spool: ${message}\n\n${USAGE}\n`);
  process.exit(64); // EX_USAGE
}

const OPTIONS = {
  url: { type: 'string' },
  redis: { type: 'string' },
  cluster: { type: 'string' },
  namespace: { type: 'string' },
  limit: { type: 'string', default: '50' },
  once: { type: 'boolean', default: false },
  stream: { type: 'string' },
  day: { type: 'string' },
  deep: { type: 'boolean', default: false },
  from: { type: 'string' },
  to: { type: 'string' },
  'to-prefix': { type: 'string' },
  format: { type: 'string' },
  'from-start': { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

export const COMMANDS = ['tail', 'status', 'verify', 'replay'] as const;
export type Command = (typeof COMMANDS)[number];

/** The options each command takes (and --help): another command's was ignored in silence. */
const COMMAND_OPTIONS: Record<Command, readonly (keyof typeof OPTIONS)[]> = {
  tail: ['redis', 'cluster', 'namespace', 'from-start'],
  status: ['url', 'redis', 'cluster', 'namespace', 'limit', 'once'],
  verify: ['stream', 'day', 'deep'],
  replay: ['stream', 'from', 'to', 'to-prefix', 'format'],
};

/** The positional arguments each command takes, and what it says of others. */
const COMMAND_POSITIONALS: Record<Command, { count: number; otherwise: string }> = {
  tail: { count: 1, otherwise: 'tail takes one stream' },
  status: { count: 0, otherwise: 'status takes no stream' },
  verify: { count: 0, otherwise: 'verify takes --stream and --day' },
  replay: { count: 0, otherwise: 'replay takes its options only' },
};

function parsed() {
  try {
    return parseArgs({ allowPositionals: true, options: OPTIONS, tokens: true });
  } catch (error) {
    fail((error as Error).message);
  }
}

/** The options' values, as every command reads them. */
export type OptionValues = ReturnType<typeof parsed>['values'];

/**
 * The command line, or exit 64 with the usage for an option it does not know or one without its
 * value, an option of another command, and arguments the command does not take; `--help` (or no
 * command) prints the usage and exits.
 */
export function commandLine(): { command: Command; values: OptionValues; args: string[] } {
  const { positionals, values, tokens } = parsed();
  const [command, ...args] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(command === undefined && !values.help ? 64 : 0);
  }
  if (!isCommand(command)) {
    checkOptionsOf(command, [], tokens);
    fail(`unknown command "${command}"`);
  }
  checkOptionsOf(command, COMMAND_OPTIONS[command], tokens);
  if (args.length !== COMMAND_POSITIONALS[command].count) fail(COMMAND_POSITIONALS[command].otherwise);
  return { command, values, args };
}

const isCommand = (name: string): name is Command => (COMMANDS as readonly string[]).includes(name);

/**
 * Exit 64 for an option the command does not take, for one given twice (only the last was used:
 * `verify --day A --day B` checked B alone), and for more than one of --url, --redis and
 * --cluster: one of them was used and the others ignored, whichever the user meant.
 */
function checkOptionsOf(
  command: string,
  takes: readonly string[],
  tokens: ReturnType<typeof parsed>['tokens'],
): void {
  const names = tokens.flatMap((token) => (token.kind === 'option' ? [token.name] : []));
  const given = new Set<string>(names);
  for (const name of given) {
    if (name !== 'help' && !takes.includes(name)) fail(`--${name}: not an option of spool ${command}`);
  }
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined)
    fail(`--${twice}: given more than once; give it once (run the command again for another)`);
  const sources = ['url', 'redis', 'cluster'].filter((name) => given.has(name));
  if (sources.length > 1) fail(`${sources.map((name) => `--${name}`).join(' and ')}: give one of them`);
}
