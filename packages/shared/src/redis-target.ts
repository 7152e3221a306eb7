/**
 * Which Redis a process talks to: one server (`REDIS_URL`) or a Redis / Valkey Cluster
 * (`REDIS_CLUSTER_NODES`). Parsed here, connected in redis-connection.ts.
 */

export interface ClusterNode {
  host: string;
  port: number;
}

export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | {
      kind: 'cluster';
      /** Seed nodes: the client learns the rest (and who owns which slot) from them. */
      nodes: readonly ClusterNode[];
      /** Credentials and TLS of every node: a cluster's nodes share them. */
      username: string | undefined;
      password: string | undefined;
      tls: boolean;
    };

const HOST_PORT = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):(\d{1,5})$/i;

/**
 * `REDIS_CLUSTER_NODES`: comma-separated seed nodes, each `host:port`, or a URL as in REDIS_URL
 * (`redis://user:password@host:port`, `rediss://…` for TLS) when the cluster needs credentials
 * or TLS. Nodes given as URLs must agree on them; they apply to every node, the ones the client
 * discovers too. Throws a message that names the entry but never its password.
 */
export function parseClusterNodes(text: string): Extract<RedisTarget, { kind: 'cluster' }> {
  const nodes: ClusterNode[] = [];
  let access: { username?: string; password?: string; tls: boolean } | undefined;
  const entries = text.split(',').map((entry) => entry.trim());
  for (const [index, entry] of entries.entries()) {
    const where = `entry ${index + 1}`;
    if (entry === '') throw new Error(`${where} is empty`);
    let host: string;
    let port: string;
    let entryAccess: typeof access;
    if (entry.includes('://')) {
      let url: URL;
      try {
        url = new URL(entry);
      } catch {
        throw new Error(`${where} is not a URL such as redis://user:password@host:6379`);
      }
      if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
        throw new Error(`${where}: expected redis:// or rediss://; got ${url.protocol}//`);
      }
      if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '') {
        throw new Error(`${where}: a cluster has no databases or options in its URL (only db 0)`);
      }
      host = url.hostname;
      port = url.port || '6379';
      entryAccess = {
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
        ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
        tls: url.protocol === 'rediss:',
      };
    } else {
      const match = HOST_PORT.exec(entry);
      if (!match) throw new Error(`${where} is not host:port`);
      host = match[1] as string;
      port = match[2] as string;
    }
    const portNumber = Number(port);
    if (portNumber < 1 || portNumber > 65535) throw new Error(`${where}: port ${port} is out of range`);
    if (entryAccess) {
      if (
        access &&
        (access.username !== entryAccess.username ||
          access.password !== entryAccess.password ||
          access.tls !== entryAccess.tls)
      ) {
        throw new Error(`${where}: its credentials or scheme differ from an earlier entry's`);
      }
      access = entryAccess;
    }
    nodes.push({ host: host.replace(/^\[(.*)\]$/, '$1'), port: portNumber });
  }
  return {
    kind: 'cluster',
    nodes: Object.freeze(nodes),
    username: access?.username,
    password: access?.password,
    tls: access?.tls ?? false,
  };
}

/**
 * Where a target points, for logs: never a password. Nor a user name without one: redis-cli reads
 * `redis://secret@host` as a password, and the start line showed it in clear (a review's run).
 */
export function describeRedisTarget(target: RedisTarget): string {
  if (target.kind === 'cluster') {
    return `cluster ${target.nodes.map(({ host, port }) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)).join(',')}`;
  }
  try {
    const url = new URL(target.url);
    if (url.username && !url.password) url.username = '***';
    url.password = url.password ? '***' : '';
    return url.toString();
  } catch {
    return 'redis (unparsable REDIS_URL)';
  }
}

/** Whether a target is reached over TLS (`rediss://`; REDIS_URL's scheme is lower case by then). */
export function usesTls(target: RedisTarget): boolean {
  return target.kind === 'cluster' ? target.tls : target.url.startsWith('rediss:');
}

/**
 * What a connection error most likely means when the client and the server disagree on TLS, said
 * beside it. Each looked like the network's fault (a review's runs against a plain and a TLS
 * Redis): a `rediss://` client's handshake to a plain server is never answered, and ioredis gives
 * up with `connect ETIMEDOUT` after its connect timeout, as for a dropped packet; a plain client
 * to a TLS port is reset at once (`ECONNRESET`), as by a restart. Managed Redis (ElastiCache with
 * in-transit encryption, Azure, Upstash) takes TLS only.
 */
export function tlsMismatchHint(error: Error, tls: boolean): string | undefined {
  const code = (error as NodeJS.ErrnoException).code;
  if (tls && code === 'ETIMEDOUT') {
    return 'the address asks for TLS (rediss://): a server that does not speak TLS on that port never answers the handshake, and the connection times out; use redis:// for it';
  }
  if (!tls && code === 'ECONNRESET') {
    return 'a server that takes only TLS on that port resets a plain connection at once: use rediss:// for it';
  }
  return undefined;
}
