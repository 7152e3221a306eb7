import type { RedisClient } from '@spool/shared';
import type { Cluster, Redis } from 'ioredis';

export interface RedisHealth {
  /** Masters asked (1 for one server). */
  nodes: number;
  usedMemoryBytes: number;
  /** 0: no limit. Summed over the masters of a cluster. */
  maxMemoryBytes: number;
  evictionPolicies: string[];
  aofEnabled: boolean;
  warnings: string[];
}

/** `INFO` text → its fields. */
function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/**
 * Memory against its limit, and what would cost data: an eviction policy other than
 * `noeviction` (Redis may drop a buffer to make room) and AOF off (a restart loses everything not
 * yet in S3). Asks every master of a cluster.
 */
export async function readRedisHealth(redis: RedisClient): Promise<RedisHealth> {
  const masters: Array<Redis | Cluster> = 'nodes' in redis ? redis.nodes('master') : [redis];
  const infos = await Promise.all(
    masters.map(async (node) =>
      parseInfo(`${await node.info('memory')}\r\n${await node.info('persistence')}`),
    ),
  );
  const policies = [...new Set(infos.map((info) => info.get('maxmemory_policy') ?? 'unknown'))];
  const used = infos.reduce((sum, info) => sum + Number(info.get('used_memory') ?? 0), 0);
  const limits = infos.map((info) => Number(info.get('maxmemory') ?? 0));
  const max = limits.includes(0) ? 0 : limits.reduce((sum, limit) => sum + limit, 0);
  const aofEnabled = infos.every((info) => info.get('aof_enabled') === '1');
  const warnings: string[] = [];
  const evicting = policies.filter((policy) => policy !== 'noeviction');
  if (evicting.length > 0) {
    warnings.push(
      `maxmemory-policy is ${evicting.join(', ')}: Redis may evict buffers to make room (data loss); set noeviction`,
    );
  }
  if (!aofEnabled)
    warnings.push('AOF is off: a Redis restart loses every event not yet in S3; set appendonly yes');
  if (max > 0 && used > 0.8 * max) {
    warnings.push(`Redis uses ${Math.round((100 * used) / max)}% of its maxmemory`);
  }
  return {
    nodes: masters.length,
    usedMemoryBytes: used,
    maxMemoryBytes: max,
    evictionPolicies: policies,
    aofEnabled,
    warnings,
  };
}
