import {
  connectRedis,
  defineSpoolCommands,
  parseClusterNodes,
  type RedisClient,
  type RedisTarget,
  readSettingFiles,
  redisUrl,
  refusedDatabase,
} from '@spool/shared';
import { fail, type OptionValues } from './command-line.js';

/**
 * A connection to the target Redis, with Spool's scripts (the status reads a stream with one); its
 * connection errors end the command with one line, not a log each retry. A database Redis refuses
 * ends it at once: ioredis would go on in database 0, another deployment's.
 */
export function connectTarget(values: OptionValues): RedisClient {
  const redis = connectRedis(redisTarget(values), { maxRetriesPerRequest: 3 });
  redis.on('error', (error) => {
    const database = refusedDatabase(error);
    if (database !== undefined) {
      fail(
        `${values.redis ? '--redis' : 'REDIS_URL'}: this Redis refused database ${database} (${error.message})`,
      );
    }
  });
  defineSpoolCommands(redis);
  return redis;
}

function redisTarget(values: OptionValues): RedisTarget {
  const env = redisEnv(values);
  const nodes = values.cluster ?? (values.redis ? undefined : env.REDIS_CLUSTER_NODES);
  if (nodes) {
    try {
      return parseClusterNodes(nodes);
    } catch (error) {
      fail(`${values.cluster ? '--cluster' : 'REDIS_CLUSTER_NODES'}: ${(error as Error).message}`);
    }
  }
  // The services' own rule (an empty variable is unset, as for them): a URL ioredis would misread
  // failed as "Invalid URL", or hung retrying a socket path.
  const url = redisUrl.safeParse(values.redis ?? env.REDIS_URL);
  if (!url.success) {
    const from = values.redis ? '--redis' : env.fromFile ? 'REDIS_URL (from REDIS_URL_FILE)' : 'REDIS_URL';
    fail(`${from}: ${url.error.issues[0]?.message}`);
  }
  return { kind: 'standalone', url: url.data };
}

/**
 * REDIS_URL and REDIS_CLUSTER_NODES as the services read them: an empty variable is unset, and
 * either may come from its `_FILE` (a pod's mounted secret), unless --redis or --cluster says.
 */
function redisEnv(values: OptionValues): {
  REDIS_URL?: string;
  REDIS_CLUSTER_NODES?: string;
  fromFile?: boolean;
} {
  if (values.redis || values.cluster) return {};
  const names = ['REDIS_URL', 'REDIS_URL_FILE', 'REDIS_CLUSTER_NODES', 'REDIS_CLUSTER_NODES_FILE'];
  const given = Object.fromEntries(
    names.flatMap((name) => (process.env[name] ? [[name, process.env[name] as string]] : [])),
  );
  const files = readSettingFiles(given);
  if (files.problems.length > 0) fail(files.problems.join('; '));
  return { ...given, ...files.values, fromFile: files.files.REDIS_URL !== undefined };
}
