import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LATE, settledWithin } from '@spool/shared';
import { Redis } from 'ioredis';
import { isPortFree } from '../ports.js';
import { until } from '../wait.js';
import { ManagedProcess } from './managed-process.js';

const run = promisify(execFile);

export interface LocalRedisClusterOptions {
  /** Each node's AOF, nodes.conf and log go to `<dir>/<port>/`. */
  dir: string;
  masters?: number;
  replicasPerMaster?: number;
  /** appendfsync of every node; `off` runs without AOF. */
  fsync?: 'always' | 'everysec' | 'off';
  /** requirepass (and masterauth) of every node. */
  password?: string;
  /** TLS only, on every link (clients, cluster bus, replication), with these PEM files. */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** cluster-node-timeout: how long a master may be unreachable before its replica takes over. */
  nodeTimeoutMs?: number;
  /**
   * Fixed ports from here up (bus ports 10000 above them), so a cluster kept in `dir` starts
   * again as it was (`make dev-cluster`); free random ports otherwise.
   */
  basePort?: number;
}

/** One node as CLUSTER NODES describes it. */
export interface ClusterNodeState {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** A replica's master's id. */
  masterId: string | undefined;
  /** Slots served (masters), as `first-last` ranges. */
  slots: string[];
  connected: boolean;
  failed: boolean;
}

/** A port free with its cluster bus port (port + 10000) free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.has(port) || taken.has(port + 10_000)) continue;
    if ((await isPortFree(port)) && (await isPortFree(port + 10_000))) {
      taken.add(port);
      taken.add(port + 10_000);
      return port;
    }
  }
}

/**
 * A Redis Cluster of local redis-server processes on 127.0.0.1 (by default 3 masters, each with
 * one replica), configured as Spool ships Redis: AOF, no RDB, noeviction. Made with
 * `redis-cli --cluster create`; ready once every node agrees the cluster is ok and every replica
 * is in sync, so WAIT and failovers behave from the first command.
 */
export class LocalRedisCluster {
  private constructor(
    private readonly options: LocalRedisClusterOptions,
    readonly ports: readonly number[],
    private readonly processes: ReadonlyMap<number, ManagedProcess>,
  ) {}

  static async start(options: LocalRedisClusterOptions): Promise<LocalRedisCluster> {
    const masters = options.masters ?? 3;
    const replicas = options.replicasPerMaster ?? 1;
    const taken = new Set<number>();
    const ports: number[] = [];
    const { basePort } = options;
    for (let i = 0; i < masters * (1 + replicas); i += 1) {
      ports.push(basePort === undefined ? await clusterPort(taken) : basePort + i);
    }
    const processes = new Map<number, ManagedProcess>();
    const cluster = new LocalRedisCluster(options, ports, processes);
    try {
      for (const port of ports) {
        const dir = join(options.dir, String(port));
        mkdirSync(dir, { recursive: true });
        const node = new ManagedProcess(`redis-${port}`, 'redis-server', cluster.serverArgs(port, dir));
        node.start();
        processes.set(port, node);
      }
      for (const port of ports)
        await until(`redis ${port}`, async () => (await cluster.call(port, 'PING')) === 'PONG');
      // Nodes that already know each other (a cluster kept in `dir`) are a cluster already.
      const info = String(await cluster.call(ports[0] as number, 'CLUSTER', 'INFO'));
      if (!info.includes('cluster_known_nodes:1\r')) {
        await cluster.waitHealthy();
        return cluster;
      }
      await run('redis-cli', [
        ...cluster.auth(),
        '--cluster',
        'create',
        ...ports.map((port) => `127.0.0.1:${port}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ]);
      await cluster.waitHealthy(masters * replicas);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** Every node as REDIS_CLUSTER_NODES takes it: `host:port,…`, or URLs with the password. */
  get seeds(): string {
    const { password, tls } = this.options;
    const scheme = tls ? 'rediss' : 'redis';
    const access = password ? `${scheme}://:${encodeURIComponent(password)}@` : tls ? 'rediss://' : '';
    return this.ports.map((port) => `${access}127.0.0.1:${port}`).join(',');
  }

  /** The process of the node on `port` (to kill -9 it, say). */
  process(port: number): ManagedProcess {
    const node = this.processes.get(port);
    if (!node) throw new Error(`no cluster node on port ${port}`);
    return node;
  }

  /** The cluster as one node (the first that answers) sees it. */
  async state(): Promise<ClusterNodeState[]> {
    return parseClusterNodes(String(await this.callAny('CLUSTER', 'NODES')));
  }

  /** One command to the first running node that answers it. */
  async callAny(...args: string[]): Promise<unknown> {
    for (const port of this.ports) {
      if (!this.processes.get(port)?.running) continue;
      const answer = await this.call(port, ...args).then(
        (value) => ({ value }),
        () => undefined,
      );
      if (answer) return answer.value;
    }
    throw new Error('no cluster node answers');
  }

  /** The port of the master that serves `key`'s slot, by the cluster's own account. */
  async masterOf(key: string): Promise<number> {
    const nodes = await this.state();
    const slot = Number(await this.callAny('CLUSTER', 'KEYSLOT', key));
    const master = nodes.find((node) => node.role === 'master' && slotInRanges(slot, node.slots));
    if (!master) throw new Error(`no master serves slot ${slot}`);
    return master.port;
  }

  /**
   * Moves `slot` to the master on `toPort` as `redis-cli --cluster reshard` does, in its three
   * steps (so a test can act between them): mark the slot migrating, move its keys with
   * MIGRATE, hand the slot over.
   */
  async migrateSlot(slot: number, toPort: number): Promise<void> {
    const move = await this.beginSlotMigration(slot, toPort);
    await this.migrateKeys(move);
    await this.finishSlotMigration(move);
    // What redis-cli does not wait for: until the target's replicas hold the keys it received, a
    // failover of the target loses them (docs/reliability.md, Redis Cluster).
    await this.replicasCaughtUp(move.to.port);
  }

  /**
   * Resolves once every replica of the master on `port` has acknowledged what that master had
   * written when this was called. Redis replicates MIGRATE's keys to the new owner's replicas as
   * it does any write, asynchronously, and nothing a client does waits for them (WAIT counts only
   * the calling client's own writes). Replicas acknowledge once a second.
   */
  async replicasCaughtUp(port: number, timeoutMs = 10_000): Promise<void> {
    const replication = async () => String(await this.call(port, 'INFO', 'replication'));
    const written = Number(/master_repl_offset:(\d+)/.exec(await replication())?.[1] ?? 0);
    await until(
      `the replicas of :${port} to acknowledge offset ${written}`,
      async () => {
        const info = await replication();
        const replicas = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? Number.NaN);
        const acknowledged = [...info.matchAll(/^slave\d+:.*\boffset=(\d+)/gm)].map((match) =>
          Number(match[1]),
        );
        // Every replica read, or not done: an INFO this cannot read must not pass for caught up.
        return acknowledged.length === replicas && acknowledged.every((offset) => offset >= written);
      },
      timeoutMs,
    );
  }

  /** Step 1: the target imports the slot, its owner migrates it (from now on, ASK for keys already moved). */
  async beginSlotMigration(slot: number, toPort: number): Promise<SlotMove> {
    const nodes = await this.state();
    const owner = nodes.find((node) => node.role === 'master' && slotInRanges(slot, node.slots));
    const target = nodes.find((node) => node.port === toPort);
    if (!owner || !target || target.role !== 'master' || owner === target) {
      throw new Error(`cannot move slot ${slot} to ${toPort}: owner ${owner?.port}, target ${target?.role}`);
    }
    await this.call(target.port, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', owner.id);
    await this.call(owner.port, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', target.id);
    return { slot, from: owner, to: target };
  }

  /** Step 2: moves up to `limit` of the slot's keys (all by default) to the target. */
  async migrateKeys(move: SlotMove, limit = Number.POSITIVE_INFINITY): Promise<number> {
    let moved = 0;
    while (moved < limit) {
      const count = String(Math.min(100, limit - moved));
      const keys = (await this.call(
        move.from.port,
        'CLUSTER',
        'GETKEYSINSLOT',
        String(move.slot),
        count,
      )) as string[];
      if (keys.length === 0) break;
      const auth = this.options.password ? ['AUTH', this.options.password] : [];
      await this.call(
        move.from.port,
        'MIGRATE',
        '127.0.0.1',
        String(move.to.port),
        '',
        '0',
        '5000',
        ...auth,
        'KEYS',
        ...keys,
      );
      moved += keys.length;
    }
    return moved;
  }

  /** Step 3: every master learns the slot's new owner (the target first, as redis-cli does). */
  async finishSlotMigration(move: SlotMove): Promise<void> {
    const masters = (await this.state()).filter((node) => node.role === 'master' && !node.failed);
    for (const node of [move.to, ...masters.filter((master) => master.id !== move.to.id)]) {
      await this.call(node.port, 'CLUSTER', 'SETSLOT', String(move.slot), 'NODE', move.to.id);
    }
  }

  /**
   * Resolves once every running node says the cluster is ok and sees the same masters, replicas
   * and slots (gossip has settled), every replica is in sync with its master, and there are
   * `replicas` replicas in all (at start: all of them; after a failover, fewer).
   */
  async waitHealthy(replicas?: number, timeoutMs = 60_000): Promise<void> {
    const running = () => this.ports.filter((port) => this.processes.get(port)?.running);
    const describe = (nodes: ClusterNodeState[]) =>
      nodes
        .map(
          (node) =>
            `${node.port} ${node.role} ${node.failed} ${node.masterId ?? '-'} ${node.slots.join(',')}`,
        )
        .sort()
        .join('|');
    await until(
      'the cluster to settle on every node',
      async () => {
        let agreed: string | undefined;
        for (const port of running()) {
          const info = String(await this.call(port, 'CLUSTER', 'INFO'));
          if (!info.includes('cluster_state:ok')) return false;
          const view = describe(parseClusterNodes(String(await this.call(port, 'CLUSTER', 'NODES'))));
          if (agreed !== undefined && view !== agreed) return false;
          agreed = view;
        }
        const live = (await this.state()).filter((node) => !node.failed && running().includes(node.port));
        const liveReplicas = live.filter((node) => node.role === 'replica');
        if (replicas !== undefined && liveReplicas.length !== replicas) return false;
        for (const master of live.filter((node) => node.role === 'master' && node.slots.length > 0)) {
          const replication = String(await this.call(master.port, 'INFO', 'replication'));
          const expected = liveReplicas.filter((node) => node.masterId === master.id).length;
          const online = replication.match(/^slave\d+:.*state=online/gm)?.length ?? 0;
          if (online < expected) return false;
        }
        return true;
      },
      timeoutMs,
    );
  }

  async stop(): Promise<void> {
    for (const node of this.processes.values()) await node.stop();
  }

  /** One command to one node, on a connection of its own. */
  async call(port: number, ...args: string[]): Promise<unknown> {
    const client = this.client(port);
    try {
      await client.connect();
      return await client.call(args[0] as string, ...args.slice(1));
    } finally {
      client.disconnect();
    }
  }

  /**
   * Holds the node at `port` busy for `ms` (a script that loops on TIME), and resolves once it is
   * busy: a PING on a connection opened before the script goes unanswered for 100 ms. `ended` is
   * the script's end. A fixed wait after sending the script covered a new connection, its
   * handshake and the EVAL only on an idle machine (a loaded one took up to 266 ms to connect).
   */
  async holdBusy(port: number, ms: number): Promise<{ ended: Promise<unknown> }> {
    const watcher = this.client(port);
    await watcher.connect();
    const ended = this.call(
      port,
      'EVAL',
      "local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] repeat local n = redis.call('TIME') until n[1] * 1000000 + n[2] - start > tonumber(ARGV[1]) return 1",
      '0',
      String(ms * 1_000),
    );
    ended.catch(() => {});
    try {
      await until(
        `node :${port} to be busy`,
        async () => (await settledWithin(watcher.ping(), 100)) === LATE,
      );
    } finally {
      watcher.disconnect();
    }
    return { ended };
  }

  private client(port: number): Redis {
    const client = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      ...(this.options.password ? { password: this.options.password } : {}),
      ...(this.options.tls ? { tls: { ca: readFileSync(this.options.tls.caFile) } } : {}),
    });
    client.on('error', () => {});
    return client;
  }

  private auth(): string[] {
    const { password, tls } = this.options;
    return [
      ...(password ? ['-a', password, '--no-auth-warning'] : []),
      ...(tls ? ['--tls', '--cacert', tls.caFile] : []),
    ];
  }

  private serverArgs(port: number, dir: string): string[] {
    const fsync = this.options.fsync ?? 'everysec';
    const { password, tls } = this.options;
    const listen = tls
      ? ['--port', '0', '--tls-port', String(port), '--tls-cluster', 'yes', '--tls-replication', 'yes']
      : ['--port', String(port)];
    return [
      ...listen,
      ...(tls
        ? ['--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile]
        : []),
      ...(tls ? ['--tls-auth-clients', 'no'] : []),
      ...['--bind', '127.0.0.1', '--dir', dir, '--logfile', join(dir, 'redis.log')],
      ...(fsync === 'off' ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', fsync]),
      ...['--save', '', '--maxmemory-policy', 'noeviction', '--lazyfree-lazy-expire', 'yes'],
      ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf')],
      ...['--cluster-node-timeout', String(this.options.nodeTimeoutMs ?? 2_000)],
      ...(password ? ['--requirepass', password, '--masterauth', password] : []),
    ];
  }
}

/** A slot on its way from one master to another (see LocalRedisCluster.migrateSlot). */
export interface SlotMove {
  slot: number;
  from: ClusterNodeState;
  to: ClusterNodeState;
}

/** Whether `slot` is in ranges such as `0-5460` and `7000`. */
function slotInRanges(slot: number, ranges: string[]): boolean {
  return ranges.some((range) => {
    const [first = -1, last = first] = range.split('-').map(Number);
    return slot >= first && slot <= last;
  });
}

/** CLUSTER NODES' text → one entry per node. */
export function parseClusterNodes(text: string): ClusterNodeState[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id = '', address = '', flags = '', masterId = '-', , , , link = '', ...slots] = line.split(' ');
      const port = Number(address.split('@')[0]?.split(':').pop());
      const flagSet = new Set(flags.split(','));
      return {
        id,
        port,
        role: flagSet.has('master') ? ('master' as const) : ('replica' as const),
        masterId: masterId === '-' ? undefined : masterId,
        slots: slots.filter((slot) => !slot.startsWith('[')),
        connected: link === 'connected',
        failed: flagSet.has('fail') || flagSet.has('fail?'),
      };
    });
}
