import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { parseInfo, type RedisClient, refusedByAcl } from '@spool/shared';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface RedisHealth {
  /** Masters asked (1 for one server). */
  nodes: number;
  usedMemoryBytes: number;
  /** 0: no limit. Summed over the masters of a cluster. */
  maxMemoryBytes: number;
  evictionPolicies: string[];
  aofEnabled: boolean;
  /** What costs data or refuses writes now: an evicting policy, memory over 80 % of maxmemory. */
  warnings: string[];
  /**
   * Settings that cost data or hold up writes only on a rare event (a restart, a huge set
   * expiring), and that a deployment may have chosen or cannot change (a managed Redis without
   * AOF): said apart from the warnings, so that they do not stand among the alerts for good.
   */
  notes: string[];
  /**
   * Set where the Redis user may not run INFO (an ACL without `@dangerous`): memory, the
   * eviction policy and AOF are then unknown, and the fields above say nothing.
   */
  unchecked?: true;
}

/** What a Redis user that may not run INFO lets the status say of its Redis. */
const INFO_REFUSED_NOTE =
  'this Redis user may not run INFO: memory, the eviction policy and AOF are not checked (allow it +info)';

/**
 * readRedisHealth, or, where INFO is refused (NOPERM), a health that says so: the status page
 * answered 503 "Redis could not be reached" to such a user, with Redis there (a review's run).
 */
export async function readRedisHealthOrUnchecked(redis: RedisClient): Promise<RedisHealth> {
  try {
    return await readRedisHealth(redis);
  } catch (error) {
    if (!refusedByAcl((error as Error).message)) throw error;
    const nodes = 'nodes' in redis ? redis.nodes('master').length : 1;
    return {
      nodes,
      usedMemoryBytes: 0,
      maxMemoryBytes: 0,
      evictionPolicies: [],
      aofEnabled: false,
      warnings: [],
      notes: [INFO_REFUSED_NOTE],
      unchecked: true,
    };
  }
}

/**
 * Memory against its limit, and what would cost data: an eviction policy other than
 * `noeviction` (Redis may drop a buffer to make room) and AOF off (a restart loses everything not
 * yet in S3). Asks every master of a cluster.
 */
export async function readRedisHealth(redis: RedisClient): Promise<RedisHealth> {
  const masters: Array<Redis | Cluster> = 'nodes' in redis ? redis.nodes('master') : [redis];
  // A cluster client not yet ready knows no master: its health is unknown, not every check passed.
  if (masters.length === 0) throw new Error('no Redis Cluster master is connected yet');
  const infos = await Promise.all(
    masters.map(async (node) => `${await node.info('memory')}\r\n${await node.info('persistence')}`),
  );
  return healthOf(infos, await Promise.all(masters.map(lazyExpireOf)));
}

/**
 * A master's `lazyfree-lazy-expire` ('yes' or 'no'); undefined where CONFIG is not allowed (a
 * managed Redis may rename or forbid it), which is then not judged.
 */
async function lazyExpireOf(node: Redis | Cluster): Promise<string | undefined> {
  try {
    const [, value] = (await node.call('CONFIG', 'GET', 'lazyfree-lazy-expire')) as string[];
    return value;
  } catch {
    return undefined;
  }
}

/**
 * The health of the masters whose `INFO memory` and `INFO persistence` texts these are, and
 * their `lazyfree-lazy-expire` where known.
 */
export function healthOf(
  texts: readonly string[],
  lazyExpire: ReadonlyArray<string | undefined> = [],
): RedisHealth {
  const infos = texts.map(parseInfo);
  const policies = [...new Set(infos.map((info) => info.get('maxmemory_policy') ?? 'unknown'))];
  const used = infos.reduce((sum, info) => sum + Number(info.get('used_memory') ?? 0), 0);
  const limits = infos.map((info) => Number(info.get('maxmemory') ?? 0));
  const max = limits.includes(0) ? 0 : limits.reduce((sum, limit) => sum + limit, 0);
  const aofEnabled = infos.every((info) => info.get('aof_enabled') === '1');
  const warnings: string[] = [];
  const notes: string[] = [];
  const evicting = policies.filter((policy) => policy !== 'noeviction');
  if (evicting.length > 0) {
    warnings.push(
      `maxmemory-policy is ${evicting.join(', ')}: Redis may evict buffers to make room (data loss); set noeviction`,
    );
  }
  if (!aofEnabled)
    notes.push(
      'AOF is off: a Redis restart loses every event not yet in S3, and the messageIds dedupe remembers (retries of events already in S3 are stored again); set appendonly yes',
    );
  // A dedupe set expires whole: freed on Redis's main thread, one of millions of ids blocks every
  // command for seconds (1.5-2.1 s for 3 million, bench/analysis/lazyfree-expire.mjs), and
  // appends time out.
  if (lazyExpire.includes('no')) {
    notes.push(
      'lazyfree-lazy-expire is no: an expiring dedupe set of millions of messageIds blocks Redis for seconds (appends answered 503); set lazyfree-lazy-expire yes',
    );
  }
  // Each master against its own limit: a cluster's writes fail on the one master that is full,
  // however much room the others have (and a master without a limit says nothing of the rest).
  const shares = infos
    .map((info) => Number(info.get('used_memory') ?? 0) / Number(info.get('maxmemory') ?? 0))
    .filter((share) => Number.isFinite(share) && share > 0.8);
  if (shares.length > 0) {
    const worst = `${Math.round(100 * Math.max(...shares))}% of its maxmemory`;
    warnings.push(
      infos.length === 1
        ? `Redis uses ${worst}`
        : `${shares.length} of ${infos.length} Redis masters use over 80% of their maxmemory (the fullest ${worst})`,
    );
  }
  return {
    nodes: infos.length,
    usedMemoryBytes: used,
    maxMemoryBytes: max,
    evictionPolicies: policies,
    aofEnabled,
    warnings,
    notes,
  };
}

/**
 * Says in the log, once Redis answers, what of its setup loses or holds up events (the same
 * warnings the status page and spool_redis_at_risk give): an evicting Redis drops keys and tells
 * no one. A check that fails (a Cluster master not answering yet, a slow INFO) is made again,
 * `retryMs` apart, up to `attempts` times: before, the one check's failure was dropped, and the
 * warning with it (likely what a loaded clean clone's cluster test met: no warning in 15 s). Its
 * waits hold no process open.
 */
export async function warnOfRedisRisks(
  redis: RedisClient,
  logger: Pick<Logger, 'warn'>,
  { attempts = 30, retryMs = 1_000 } = {},
): Promise<void> {
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      // Before, a cluster client knows no master to ask.
      if (redis.status !== 'ready') await once(redis, 'ready');
      const { warnings, notes } = await readRedisHealthOrUnchecked(redis);
      const risks = [...warnings, ...notes];
      if (risks.length > 0) logger.warn({ warnings: risks }, 'Redis is set up to lose or hold up events');
      return;
    } catch {
      await delay(retryMs, undefined, { ref: false });
    }
  }
}
