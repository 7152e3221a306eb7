// What the sweep's look for buffer units the registry lacks costs Redis (registry-recovery.ts, one
// look in 10 minutes): Redis's CPU (INFO cpu) for a look over a keyspace shaped like Spool's
// (`units` buffer units of 10 keys each, one in 10 holding a buffer), beside a plain SCAN of the
// same keys without a pattern, alternating, 3 rounds. Not a scenario of `make bench`.
// Usage: node bench/analysis/registry-scan-cost.mjs [units, default 100000]
import { join } from 'node:path';
import { ROOT, startStack, stopAll } from '../lib.mjs';

const { recoverRegistry } = await import(join(ROOT, 'apps/flusher/dist/registry-recovery.js'));
const UNITS = Number(process.argv[2] ?? 100_000);
const { redis } = await startStack();
const cpuSeconds = async () => {
  const info = await redis.info('cpu');
  const field = (name) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)[1]);
  return field('used_cpu_sys') + field('used_cpu_user');
};
try {
  for (let first = 0; first < UNITS; first += 1_000) {
    const pipeline = redis.pipeline();
    for (let n = first; n < Math.min(UNITS, first + 1_000); n += 1) {
      const base = `spool:{unit-${n}}`;
      pipeline.set(`${base}:gen`, 3).hset(`${base}:stats`, 'accepted', 10).set(`${base}:sealed-bytes`, 0);
      pipeline.sadd(`${base}:seen:1796000000000:1`, 'id').hset(`${base}:seen:widths`, '300000', 1);
      pipeline
        .set(`${base}:sealed:2`, 'x')
        .hset(`${base}:sealed:2:meta`, 'since', 1)
        .sadd(`${base}:pending`, 2);
      pipeline.set(`${base}:buf`, 'x');
      if (n % 10 === 0) pipeline.set(`${base}:since`, 1);
    }
    await pipeline.exec();
  }
  // Every unit registered: the look finds nothing to add, as in a healthy deployment.
  for (let first = 0; first < UNITS; first += 10_000) {
    const members = [];
    for (let n = first; n < Math.min(UNITS, first + 10_000); n += 1) members.push(1, `unit-${n}`);
    await redis.zadd('{spool}:stream-registry', ...members);
  }
  console.log(`${await redis.dbsize()} keys, ${UNITS} units`);
  for (let round = 1; round <= 3; round += 1) {
    for (const side of ['look', 'scan']) {
      await redis.del('{spool}:registry-recovery');
      const before = await cpuSeconds();
      const started = performance.now();
      if (side === 'look') await recoverRegistry(redis, 'spool', Date.now());
      else for await (const _ of redis.scanStream({ count: 1_000 })) void _;
      const ms = performance.now() - started;
      console.log(
        `round ${round} ${side === 'look' ? 'the look      ' : 'a plain SCAN  '} ${ms.toFixed(0)} ms, ${((await cpuSeconds()) - before).toFixed(2)} s of Redis CPU`,
      );
    }
  }
} finally {
  redis.disconnect();
  await stopAll();
}
