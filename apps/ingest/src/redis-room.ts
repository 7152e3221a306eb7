import { type MemoryReserve, parseInfo, type RedisClient, refusedByAcl } from '@spool/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { Cluster, Redis } from 'ioredis';

/**
 * How often the masters' memory is read: appends have this long to fill the half of maxmemory
 * (at least) between the line where checks start and maxmemory.
 */
const READ_EVERY_MS = 250;

/**
 * Whether appends check REDIS_MEMORY_RESERVE, from each Redis master's `INFO memory`, read four
 * times a second. The check itself is in the append script, against the master's own INFO at that
 * moment (append-6.lua says why), and costs Redis some 10 µs a call (a quarter of a one-event
 * append's; docs/benchmarks.md): so it runs only while some master is at least half full, or
 * within twice the reserve of its maxmemory, and never on a Redis without maxmemory. Below that
 * line a quarter of a second is far too short for appends to fill what is left. Until a read
 * succeeds, and while Redis does not answer, every append checks. A Redis user that may not run
 * INFO (an ACL without @dangerous) keeps no reserve: said once, and Redis's own refusal at
 * maxmemory is then all there is.
 */
export class RedisRoom {
  private checking = true;
  private timer: NodeJS.Timeout | undefined;
  private readonly said = new Set<string>();

  constructor(
    private readonly redis: RedisClient,
    private readonly reserve: MemoryReserve | undefined,
    private readonly logger?: Pick<FastifyBaseLogger, 'warn'>,
  ) {}

  /** Reads the masters' memory now, then every READ_EVERY_MS until `stop()`. */
  async start(): Promise<void> {
    if (this.reserve === undefined) return;
    await this.read();
    this.timer = setInterval(() => void this.read(), READ_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The reserve an append checks now; undefined when it need not (no master near its maxmemory). */
  reserveForAppend(): MemoryReserve | undefined {
    return this.checking ? this.reserve : undefined;
  }

  /** Reads the masters' memory (every READ_EVERY_MS once started). */
  async read(): Promise<void> {
    const reserve = this.reserve as MemoryReserve;
    try {
      const masters: Array<Redis | Cluster> =
        'nodes' in this.redis ? this.redis.nodes('master') : [this.redis];
      // Only connected masters are asked: a command to one not connected would connect it (ioredis
      // connects a cluster node on its first command), and four times a second at a dead master
      // that churned the client's node list, which /readyz judges. Not knowing one: check.
      const connected = masters.filter((node) => node.status === 'ready');
      if (masters.length === 0 || connected.length < masters.length) {
        this.checking = true;
        if (connected.length === 0) return;
      }
      const memories = (await Promise.all(connected.map((node) => node.info('memory')))).map(parseInfo);
      this.checking =
        connected.length < masters.length || memories.some((memory) => nearMaxmemory(memory, reserve));
      const limits = memories.map(maxmemoryOf).filter((limit) => limit > 0);
      if ('bytes' in reserve && limits.some((limit) => reserve.bytes >= limit)) {
        this.sayOnce(
          `REDIS_MEMORY_RESERVE (${reserve.bytes} bytes) is at least a Redis master's maxmemory: every append to it is refused (SPOOL_REDIS_FULL); set a share such as 10%`,
        );
      }
    } catch (error) {
      // NOPERM: this user may not run INFO, nor may the append script, which then keeps no reserve.
      if (refusedByAcl((error as Error).message)) {
        this.checking = false;
        this.sayOnce(
          "REDIS_MEMORY_RESERVE is off: this Redis user may not run INFO, so appends cannot stop short of maxmemory (allow +info in the user's ACL)",
        );
      } else this.checking = true;
    }
  }

  private sayOnce(message: string): void {
    if (this.said.has(message)) return;
    this.said.add(message);
    this.logger?.warn(message);
  }
}

/**
 * Whether a master whose `INFO memory` fields (parseInfo) these are should have its appends
 * checked: it has a maxmemory, and uses at least half of it, or all but twice the reserve.
 */
export function nearMaxmemory(memory: Map<string, string>, reserve: MemoryReserve): boolean {
  const maxmemory = maxmemoryOf(memory);
  if (maxmemory === 0) return false;
  const used = Number(memory.get('used_memory') ?? Number.POSITIVE_INFINITY);
  const reserveBytes = 'percent' in reserve ? (maxmemory * reserve.percent) / 100 : reserve.bytes;
  return used >= maxmemory - Math.max(maxmemory / 2, 2 * reserveBytes);
}

/** `maxmemory` of a master's `INFO memory` fields; 0 (none) when it says none. */
function maxmemoryOf(memory: Map<string, string>): number {
  return Number(memory.get('maxmemory') ?? 0);
}
