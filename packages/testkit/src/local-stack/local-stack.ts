import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis, parseClusterNodes, type RedisClient, type RedisTarget } from '@spool/shared';
import { Redis, type RedisOptions } from 'ioredis';
import { withoutSpoolSettings } from '../inherited-env.js';
import { freePort, isPortFree } from '../ports.js';
import { SPOOL_MAINS, SPOOL_NODE_FLAGS } from '../spool-services.js';
import { TcpProxy } from '../tcp-proxy.js';
import { until, waitFor } from '../wait.js';
import { ManagedProcess, type ProcessOutput } from './managed-process.js';
import { LocalRedisCluster, type LocalRedisClusterOptions } from './redis-cluster.js';
import { S3FaultProxy } from './s3-fault-proxy.js';
import { LOCAL_S3_CREDENTIALS, s3StandinMain } from './s3-standin.js';

export interface LocalStackOptions {
  /** Where Redis's AOF and the S3 objects live; a temporary folder, removed at stop(), by default. */
  dataDir?: string;
  redis?: {
    /** An existing Redis to use instead of starting one. */
    url?: string;
    port?: number;
    /** Redis's appendfsync; `off` runs without AOF (benchmarks). Default: `everysec`, as shipped. */
    fsync?: 'always' | 'everysec' | 'off';
    /** A local Redis Cluster instead of one server (see LocalRedisCluster); not with `url`. */
    cluster?: Omit<LocalRedisClusterOptions, 'dir' | 'fsync'>;
  };
  /** `false`: no S3 (ingest-only stacks). */
  s3?:
    | false
    | {
        /** An existing S3-compatible endpoint (with credentials from the environment) instead of the stand-in. */
        endpoint?: string;
        port?: number;
        bucket?: string;
      };
  /**
   * Fault points between the processes: an HTTP fault proxy in front of S3, and TCP proxies
   * between Redis and the ingests, and between Redis and the flushers (not for a cluster, whose
   * clients reach each node at the address the cluster gives them).
   */
  faults?: boolean;
  /** What the processes print (Redis and the stand-in log to files in the data folder). */
  output?: ProcessOutput;
  /**
   * The Spool settings of this process's environment reach the ingests and flushers (`make dev`,
   * `make loadtest`, the benches: `WRITE_KEYS=… make dev`), under the stack's own. Default: not,
   * so a test's processes run on the settings it gives them, whatever the shell exported.
   */
  inheritSettings?: boolean;
}

/** Where a Spool process listens, and which build runs (another build's main.js, to compare two). */
export interface ServiceOptions {
  port?: number;
  main?: string;
}

/** One of the stack's ingests or flushers. */
export interface SpoolService {
  name: string;
  url: string;
  process: ManagedProcess;
}

export interface StackFaults {
  s3: S3FaultProxy;
  /** Absent for a cluster. */
  ingestRedis: TcpProxy | undefined;
  flusherRedis: TcpProxy | undefined;
}

export interface StackS3 {
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** A service's readiness check: a 503 fails with the reason the service gives. A server that
 * takes the connection and never answers fails the check after 2 s, not the whole wait. */
const ready = (url: string) => async () => {
  const answer = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
  if (!answer.ok) throw new Error(`/readyz answered ${answer.status} ${await answer.text()}`);
  return true;
};

/**
 * redis-server as Spool ships it: AOF on (unless `off`), no RDB snapshots, never evicting a
 * buffer, expired keys (a dedupe window's sets) freed off the main thread.
 */
function redisServerArgs(port: number, dir: string, fsync: 'always' | 'everysec' | 'off'): string[] {
  const persistence =
    fsync === 'off' ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', fsync];
  return [
    ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--logfile', join(dir, 'redis.log')],
    ...persistence,
    ...['--save', '', '--maxmemory-policy', 'noeviction', '--lazyfree-lazy-expire', 'yes'],
  ];
}

/**
 * Spool's whole pipeline as local processes on 127.0.0.1: redis-server, the S3-compatible
 * stand-in, and as many built ingests and flushers as asked for, with optional fault points
 * between them. The one local stack: `make dev`, the loadtest, the chaos and soak runs and the
 * benchmarks all start theirs here, so ports, readiness, credentials and shutdown are written
 * once. Nothing here loads the container harness.
 */
export class LocalStack {
  readonly ingests: SpoolService[] = [];
  readonly flushers: SpoolService[] = [];
  private readonly processes: ManagedProcess[] = [];
  /** What the ingests and flushers inherit (`inheritSettings`). */
  private get inherited(): NodeJS.ProcessEnv {
    return this.options.inheritSettings ? process.env : withoutSpoolSettings();
  }

  private constructor(
    private readonly options: LocalStackOptions,
    private readonly dir: string,
    private readonly temporary: boolean,
    /** Redis as the stack's own clients reach it (never through a fault proxy); a cluster's first node. */
    readonly redisUrl: string,
    readonly redisServer: ManagedProcess | undefined,
    /** The cluster, when the stack runs one (its processes, its state, its nodes to kill). */
    readonly redisCluster: LocalRedisCluster | undefined,
    readonly s3: StackS3 | undefined,
    readonly faults: StackFaults | undefined,
  ) {}

  static async start(options: LocalStackOptions = {}): Promise<LocalStack> {
    // Installed (on a fresh clone's first run) before anything starts: a failed install must not
    // leave the stack's Redis running, nor its folder.
    const standinMain = options.s3 !== false && !options.s3?.endpoint ? s3StandinMain() : undefined;
    const temporary = options.dataDir === undefined;
    const dir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'spool-stack-'));
    const output = options.output ?? 'ignore';
    const started: ManagedProcess[] = [];
    const launch = (process: ManagedProcess) => {
      process.start();
      started.push(process);
      return process;
    };

    /** The S3 stand-in, when the stack runs its own. */
    let s3Standin: ManagedProcess | undefined;
    let redisUrl = options.redis?.url;
    let redisServer: ManagedProcess | undefined;
    let redisCluster: LocalRedisCluster | undefined;
    if (options.redis?.cluster) {
      if (redisUrl) throw new Error('a cluster stack takes no redis.url');
      redisCluster = await LocalRedisCluster.start({
        dir: join(dir, 'redis-cluster'),
        fsync: options.redis.fsync,
        ...options.redis.cluster,
      });
      redisUrl = `redis://127.0.0.1:${redisCluster.ports[0]}`;
    } else if (!redisUrl) {
      const port = options.redis?.port ?? (await freePort());
      mkdirSync(join(dir, 'redis'), { recursive: true });
      const args = redisServerArgs(port, join(dir, 'redis'), options.redis?.fsync ?? 'everysec');
      redisServer = launch(new ManagedProcess('redis', 'redis-server', args, {}, 'ignore'));
      redisUrl = `redis://127.0.0.1:${port}`;
    }

    let s3: StackS3 | undefined;
    if (options.s3 !== false) {
      const bucket = options.s3?.bucket ?? 'spool';
      if (options.s3?.endpoint) {
        s3 = {
          endpoint: options.s3.endpoint,
          bucket,
          credentials: {
            accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? '',
            secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? '',
          },
        };
      } else {
        const port = options.s3?.port ?? (await freePort());
        mkdirSync(join(dir, 's3'), { recursive: true });
        const env = {
          MINIO_ROOT_USER: LOCAL_S3_CREDENTIALS.accessKeyId,
          MINIO_ROOT_PASSWORD: LOCAL_S3_CREDENTIALS.secretAccessKey,
          S3_ADDRESS: '127.0.0.1',
          S3_PORT: String(port),
          S3_BUCKETS: bucket,
        };
        s3Standin = launch(
          new ManagedProcess(
            's3',
            process.execPath,
            [standinMain as string, 'server', join(dir, 's3')],
            env,
            output,
          ),
        );
        s3 = { endpoint: `http://127.0.0.1:${port}`, bucket, credentials: { ...LOCAL_S3_CREDENTIALS } };
      }
    }

    // A process of ours that exits at start (a port in use, say) must fail the start, not leave
    // the stack talking to whatever else answers on that port.
    const alive = () => {
      const dead = started.find((process) => !process.running);
      if (dead) throw new Error(`${dead.name} exited at start: is its port in use?`);
    };
    try {
      // (A cluster is healthy once LocalRedisCluster.start resolves.)
      if (!redisCluster)
        await until('redis', async () => {
          // Ours exited (its port taken): alive() below says so at once. And something else on the
          // port that is no Redis never answers PING: each try gives up after a second.
          if (redisServer && !redisServer.running) return true;
          const client = new Redis(redisUrl as string, {
            lazyConnect: true,
            maxRetriesPerRequest: 0,
            retryStrategy: () => null,
            connectTimeout: 1_000,
            commandTimeout: 1_000,
          });
          client.on('error', () => {});
          try {
            await client.connect();
            return (await client.ping()) === 'PONG';
          } finally {
            client.disconnect();
          }
        });
      if (s3Standin) {
        // Ours answers a listing of its buckets. Any server answered the check before (make dev,
        // its port held by another, ran on against it and every flush failed: a review's run);
        // ours exited meanwhile: alive() below says so.
        await until('s3', async () => {
          if (!s3Standin?.running) return true;
          const answer = await fetch(`${s3?.endpoint}/`);
          return (await answer.text()).includes('<ListAllMyBucketsResult');
        });
      } else if (s3) {
        await until('s3', async () => (await fetch(`${s3?.endpoint}/`)).status < 500);
      }
      // The checks above pass on any server: ours must still be running once they did.
      await new Promise((resolve) => setTimeout(resolve, 200));
      alive();
      let faults: StackFaults | undefined;
      if (options.faults) {
        const redisPort = Number(new URL(redisUrl).port);
        const redisProxy = () => (redisCluster ? undefined : TcpProxy.start('127.0.0.1', redisPort));
        faults = {
          s3: await S3FaultProxy.start((s3 as StackS3).endpoint),
          ingestRedis: await redisProxy(),
          flusherRedis: await redisProxy(),
        };
      }
      const stack = new LocalStack(options, dir, temporary, redisUrl, redisServer, redisCluster, s3, faults);
      stack.processes.push(...started);
      return stack;
    } catch (error) {
      for (const process of started.reverse()) await process.stop();
      await redisCluster?.stop();
      if (temporary) rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The process ids of everything the stack runs (make dev records them: a killed make dev leaves them). */
  get pids(): number[] {
    const cluster = this.redisCluster;
    const nodes = cluster ? cluster.ports.map((port) => cluster.process(port).pid) : [];
    return [...this.processes.map((process) => process.pid), ...nodes].filter(
      (pid): pid is number => pid !== undefined,
    );
  }

  /** The stack's Redis as a Spool process is configured for it: a server or a cluster. */
  get redisTarget(): RedisTarget {
    return this.redisCluster
      ? parseClusterNodes(this.redisCluster.seeds)
      : { kind: 'standalone', url: this.redisUrl };
  }

  /** A client of the stack's Redis (a cluster client for a cluster), for tools and tests. */
  connectRedis(options: RedisOptions = {}): RedisClient {
    return connectRedis(this.redisTarget, options);
  }

  /** REDIS_URL or REDIS_CLUSTER_NODES, through the fault proxy `proxy` when the stack has one. */
  private redisEnv(proxy: TcpProxy | undefined): Record<string, string> {
    if (this.redisCluster) return { REDIS_CLUSTER_NODES: this.redisCluster.seeds };
    return { REDIS_URL: proxy ? proxy.url('redis') : this.redisUrl };
  }

  /**
   * Starts one more ingest (the built one), open on loopback unless WRITE_KEYS is set in `env` or,
   * with `inheritSettings`, in this process's environment, which the service then inherits
   * (`WRITE_KEYS=… make dev`).
   */
  async addIngest(env: Record<string, string> = {}, options: ServiceOptions = {}): Promise<SpoolService> {
    const inherited = this.inherited;
    const keyed = env.WRITE_KEYS ?? env.WRITE_KEYS_FILE ?? inherited.WRITE_KEYS ?? inherited.WRITE_KEYS_FILE;
    const access: Record<string, string> = keyed ? {} : { ALLOW_ANONYMOUS_WRITES: 'true' };
    const main = options.main ?? SPOOL_MAINS.ingest;
    const service = await this.addService(
      'ingest',
      main,
      { ...this.redisEnv(this.faults?.ingestRedis), ...access, ...env },
      options.port,
    );
    this.ingests.push(service);
    return service;
  }

  /** Starts one more flusher (the built one), on the stack's Redis and S3. */
  async addFlusher(env: Record<string, string> = {}, options: ServiceOptions = {}): Promise<SpoolService> {
    const s3 = this.s3;
    if (!s3) throw new Error('this stack has no S3: start it without `s3: false` to add a flusher');
    const service = await this.addService(
      'flusher',
      options.main ?? SPOOL_MAINS.flusher,
      {
        ...this.redisEnv(this.faults?.flusherRedis),
        S3_BUCKET: s3.bucket,
        S3_ENDPOINT: this.faults ? this.faults.s3.endpoint : s3.endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        S3_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
        ...env,
      },
      options.port,
    );
    this.flushers.push(service);
    return service;
  }

  /** Resolves once the stand-in and every ingest and flusher answer as ready (after faults, say). */
  async waitReady(): Promise<void> {
    const s3 = this.s3;
    if (s3) await until('s3', async () => (await fetch(`${s3.endpoint}/`)).status < 500);
    for (const service of [...this.ingests, ...this.flushers]) await until(service.name, ready(service.url));
  }

  /** Stops everything, last started first, and removes a temporary data folder. */
  async stop(): Promise<void> {
    for (const process of [...this.processes].reverse()) await process.stop();
    await this.redisCluster?.stop();
    if (this.faults) {
      await this.faults.s3.close();
      await this.faults.ingestRedis?.close();
      await this.faults.flusherRedis?.close();
    }
    if (this.temporary) rmSync(this.dir, { recursive: true, force: true });
  }

  private async addService(
    kind: 'ingest' | 'flusher',
    main: string,
    env: Record<string, string>,
    fixedPort?: number,
  ): Promise<SpoolService> {
    const port = fixedPort ?? (await freePort());
    const count = (kind === 'ingest' ? this.ingests : this.flushers).length;
    const name = `${kind}-${count + 1}`;
    // Another server on a fixed port would answer the readiness check for ours, and the stack
    // would go on talking to it.
    if (fixedPort !== undefined && !(await isPortFree(fixedPort))) {
      throw new Error(`${name}: port ${fixedPort} is in use by another process`);
    }
    const process = new ManagedProcess(
      name,
      globalThis.process.execPath,
      [...SPOOL_NODE_FLAGS[kind], main],
      // The app id names the process in its S3 requests' user agent, for the S3 fault proxy.
      { HOST: '127.0.0.1', LOG_LEVEL: 'warn', AWS_SDK_UA_APP_ID: name, ...env, PORT: String(port) },
      this.options.output ?? 'ignore',
      this.inherited,
    );
    process.start();
    this.processes.push(process);
    const url = `http://127.0.0.1:${port}`;
    // Fails at once if the process exits (a bad setting exits 78), else once it answers ready.
    const answered = await waitFor(
      async () =>
        !process.running ? 'exited' : (await ready(url)().catch(() => false)) ? 'ready' : undefined,
      30_000,
      `${name} to start`,
    );
    if (answered === 'exited' || !process.running)
      throw new Error(`${name} exited at start (exit code ${await process.exited()})`);
    return { name, url, process };
  }
}
