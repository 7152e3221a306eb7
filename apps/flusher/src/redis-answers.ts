import { mastersToJudge, type RedisClient, within } from '@spool/shared';
import { Cluster } from 'ioredis';

/**
 * Why Redis is not answering, or undefined when it is: one server, or every master of a Cluster,
 * answers a PING within `ms`. Connected is not answering: a Redis that hangs (stopped, or busy
 * with a long script) keeps its connections open, and every flush and sweep waits on it. Every
 * master, not one: a PING has no key, and ioredis would send it to one master picked at random,
 * so a probe's answer depended on the pick. Names no address: `/readyz` answers anyone.
 */
export async function redisNotAnswering(redis: RedisClient, ms: number): Promise<string | undefined> {
  // Less a master the Cluster marked failed: whether it serves without it is redisClusterDown's to say.
  const nodes = redis instanceof Cluster ? mastersToJudge(redis) : [redis];
  const answers = await Promise.all(
    nodes.map((node) =>
      within(
        node.ping().then(
          () => 'PONG',
          // A reply's code (LOADING, NOPERM, MASTERDOWN), else the client's error's name.
          (error: Error) => (error.name === 'ReplyError' ? (error.message.split(' ')[0] ?? '') : error.name),
        ),
        ms,
      ),
    ),
  );
  const failed = answers.filter((answer) => answer !== 'PONG');
  if (failed.length === 0) return undefined;
  const refusal = failed.find((answer) => answer !== undefined);
  const what = refusal ? `answered a PING with ${refusal}` : `did not answer a PING within ${ms} ms`;
  return redis instanceof Cluster
    ? `${failed.length} of ${nodes.length} Redis Cluster masters ${what}`
    : `Redis ${what}`;
}

/**
 * Whether `redis` is down now: it failed since it was last ready, and is not ready again. A
 * connection still opening at start is not down: a request then waits for it.
 */
export function redisDownTracker(redis: RedisClient): () => boolean {
  let failedSinceReady = false;
  redis.on('error', () => {
    failedSinceReady = true;
  });
  redis.on('ready', () => {
    failedSinceReady = false;
  });
  return () => failedSinceReady && redis.status !== 'ready';
}
