import { afterAll, describe, expect, it } from '@jest/globals';
import { flusherAliveKey, streamKeys, sweepLeaseKey } from '@spool/shared';
import { createTestRedis, randomName, testServices, waitFor, waitUntilLanded } from '@spool/testkit';
import { type Logger, pino } from 'pino';
import { fillBuffer, startTestFlusher } from '../test/support.js';
import { type SweepTickOutcome, startSweepTimer } from './sweep-timer.js';

const redis = createTestRedis();
const logger = pino({ level: 'silent' });

afterAll(async () => {
  await redis.quit();
});

/** A timer on a fresh namespace's lease, recording each tick's outcome. */
function timer(
  sweep: () => Promise<unknown>,
  namespace = randomName('ns'),
  holder = 'a',
  log: Logger = logger,
  client = redis,
) {
  const outcomes: SweepTickOutcome[] = [];
  const leaseKey = sweepLeaseKey(namespace);
  const handle = startSweepTimer({
    redis: client,
    leaseKey,
    aliveKey: flusherAliveKey(namespace),
    holder,
    everyMs: 50,
    sweep,
    onTick: (outcome) => outcomes.push(outcome),
    logger: log,
  });
  return { outcomes, leaseKey, stop: () => handle.stop() };
}

describe('the sweep timer', () => {
  it('sweeps again on the next tick after a sweep that failed', async () => {
    let calls = 0;
    const t = timer(async () => {
      calls += 1;
      if (calls === 1) throw new Error('Redis went away');
    });
    await waitFor(
      async () => (t.outcomes.includes('ran') ? true : undefined),
      10_000,
      'a sweep after the failure',
    );
    await t.stop();
    // (A tick may also find the failed sweep's lease still held.)
    expect(t.outcomes.filter((outcome) => outcome !== 'skipped').slice(0, 2)).toEqual(['failed', 'ran']);
  });

  it('says a sweep that fails tick after tick once, then with the count since, not on every tick', async () => {
    const said: Array<{ msg: string; repeatedSinceLastLine?: number; err?: { message: string } }> = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => said.push(JSON.parse(line)) });
    const t = timer(
      async () => {
        throw new Error('OOM command not allowed when used memory > maxmemory');
      },
      undefined,
      undefined,
      log,
    );
    await waitFor(
      async () => (t.outcomes.filter((outcome) => outcome === 'failed').length >= 6 ? true : undefined),
      10_000,
      'six failed sweeps',
    );
    await t.stop();
    const failures = said.filter((line) => line.msg === 'sweep failed; the next tick tries again');
    // The first in full; another only once 10 s have passed (a runner stalled that long).
    expect(failures[0]?.err?.message).toContain('OOM command not allowed');
    expect(failures.length).toBeLessThan(t.outcomes.filter((outcome) => outcome === 'failed').length);
  });

  it('skips its ticks while another flusher holds the lease, and sweeps once it expires', async () => {
    const namespace = randomName('ns');
    const leaseKey = sweepLeaseKey(namespace);
    // Held until a tick has been skipped, however slow the runner; then let go of at once.
    await redis.set(leaseKey, 'another flusher', 'PX', 60_000);
    let calls = 0;
    const t = timer(async () => {
      calls += 1;
    }, namespace);
    await waitFor(async () => (t.outcomes.includes('skipped') ? true : undefined), 10_000, 'a skipped tick');
    expect(calls).toBe(0);
    await redis.pexpire(leaseKey, 1);
    await waitFor(async () => (calls > 0 ? true : undefined), 10_000, 'the lease to expire');
    await t.stop();
    expect(t.outcomes[0]).toBe('skipped');
  });

  it("marks its namespace at every tick, the ones another flusher's lease made it skip too, for 2 minutes (the ingests look for it)", async () => {
    const namespace = randomName('ns');
    await redis.set(sweepLeaseKey(namespace), 'another flusher', 'PX', 60_000);
    const t = timer(async () => {}, namespace, 'flusher-b');
    try {
      await waitFor(
        async () => (t.outcomes.includes('skipped') ? true : undefined),
        10_000,
        'a skipped tick',
      );
      expect(t.outcomes).not.toContain('ran');
      expect(await redis.get(flusherAliveKey(namespace))).toBe('flusher-b');
      const ttl = await redis.pttl(flusherAliveKey(namespace));
      expect(ttl).toBeGreaterThan(60_000);
      expect(ttl).toBeLessThanOrEqual(120_000);
    } finally {
      await t.stop();
    }
  });

  it('keeps its mark and counts a refused lease apart while Redis refuses SET (as at maxmemory)', async () => {
    // Redis at maxmemory refuses SET and takes PEXPIRE: the mark expired, and the ingests said no
    // flusher ran; and every flusher counted each refused tick as failed (a review's run). A
    // user that may run anything but SET refuses it the same way, on this Redis alone.
    const user = randomName('acl');
    await redis.call('ACL', 'SETUSER', user, 'on', '>pw-for-tests', '~*', '+@all', '-set');
    const url = new URL(testServices().redisUrl);
    url.username = user;
    url.password = 'pw-for-tests';
    const refusing = createTestRedis({}, { ...testServices(), redisUrl: url.toString() });
    const namespace = randomName('ns');
    await redis.set(flusherAliveKey(namespace), 'flusher-b', 'PX', 5_000);
    let calls = 0;
    const t = timer(
      async () => {
        calls += 1;
      },
      namespace,
      'flusher-b',
      logger,
      refusing,
    );
    try {
      await waitFor(
        async () =>
          t.outcomes.filter((outcome) => outcome === 'lease_failed').length >= 3 ? true : undefined,
        10_000,
        'three ticks whose lease Redis refused',
      );
      expect(new Set(t.outcomes)).toEqual(new Set(['lease_failed']));
      expect(calls).toBe(0);
      expect(await redis.pttl(flusherAliveKey(namespace))).toBeGreaterThan(60_000);
    } finally {
      await t.stop();
      refusing.disconnect();
      await redis.call('ACL', 'DELUSER', user);
    }
  });

  it("lets go of the tick's lease when stopped, but never of another flusher's", async () => {
    // Held for its own tick (30 s at FLUSH_INTERVAL=1h), it kept the flusher started in its place
    // with FLUSH_INTERVAL=2s from sweeping that long (a review's run).
    const t = timer(async () => {}, randomName('ns'), 'stopping');
    await waitFor(async () => (t.outcomes.includes('ran') ? true : undefined), 10_000, 'a sweep');
    // Held again as a slow sweep would hold it, then stopped.
    await redis.set(t.leaseKey, 'stopping', 'PX', 60_000);
    await t.stop();
    expect(await redis.exists(t.leaseKey)).toBe(0);

    const other = timer(async () => {}, randomName('ns'), 'stopping');
    await redis.set(other.leaseKey, 'another flusher', 'PX', 60_000);
    await other.stop();
    expect(await redis.get(other.leaseKey)).toBe('another flusher');
  });

  it('waits for the sweep in progress when stopped, and ticks no more', async () => {
    let finished = false;
    let calls = 0;
    const t = timer(async () => {
      calls += 1;
      await new Promise((resolve) => setTimeout(resolve, 200));
      finished = true;
    });
    await waitFor(async () => (calls > 0 ? true : undefined), 10_000, 'a sweep to start');
    await t.stop();
    expect(finished).toBe(true);
    const [ticks, sweeps] = [t.outcomes.length, calls];
    // Four ticks' time: a tick scheduled as the last sweep ended would have begun a sweep by then.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(t.outcomes.length).toBe(ticks);
    expect(calls).toBe(sweeps);
  });
});

describe('a flusher', () => {
  it('still flushes on time after a failover lost the flush queue, its sweep schedule with it', async () => {
    const namespace = randomName('ns');
    const flusher = await startTestFlusher({
      REDIS_NAMESPACE: namespace,
      FLUSH_INTERVAL: '1s',
      FLUSH_THRESHOLD_BYTES: '1MiB',
    });
    try {
      // What promoting a replica that had not caught up can do: the queue's recent writes (here,
      // all of its keys) gone. A sweep fired by a BullMQ job scheduler stopped for good here.
      for (const key of await redis.keys(`{${namespace}}:*`)) await redis.del(key);
      const keys = streamKeys(randomName('lost-queue'), namespace);
      await fillBuffer(redis, keys, 4 * 1024);
      // Under the threshold: only the time-based flush, which the sweep starts, can land it.
      await waitUntilLanded(redis, [keys.stream], { namespace, timeoutMs: 30_000 });
    } finally {
      await flusher.close();
    }
  });
});
