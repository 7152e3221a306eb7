// What Redis spends on the bytes of an append, by where they go (usec_per_call of INFO
// commandstats, Redis's own CPU): a chunk passed to a Lua script that does nothing with it, the
// same chunk APPENDed directly, and APPENDs into buffers of growing size. Not a scenario of
// `make bench`; an analysis to rerun when the append path changes.
// Usage: node bench/analysis/redis-append-costs.mjs
import { startStack, stopAll } from '../lib.mjs';

const { redis } = await startStack();
const usecPerCall = async (command) => {
  const line = (await redis.info('commandstats'))
    .split('\n')
    .find((l) => l.startsWith(`cmdstat_${command}:`));
  return Number(/usec_per_call=([\d.]+)/.exec(line ?? '')?.[1] ?? Number.NaN);
};
const CALLS = 50;

console.log('A chunk as an argument of a Lua script that ignores it (EVAL "return 1"), against APPEND:');
for (const kib of [1, 16, 64, 256, 430, 1024]) {
  const chunk = 'x'.repeat(kib * 1024);
  await redis.config('RESETSTAT');
  for (let i = 0; i < CALLS; i++) await redis.eval('return 1', 0, chunk);
  for (let i = 0; i < CALLS; i++) {
    await redis.unlink('bench:append');
    await redis.append('bench:append', chunk);
  }
  const script = await usecPerCall('eval');
  const append = await usecPerCall('append');
  console.log(
    `  ${String(kib).padStart(5)} KiB: script ${script.toFixed(0).padStart(5)} µs, APPEND ${append.toFixed(0).padStart(4)} µs`,
  );
}

console.log('APPEND of 430 KiB (a group of 33 100-event requests), 40 of them (17 MiB), into a buffer from:');
const chunk = 'x'.repeat(430 * 1024);
for (const mib of [0, 16, 64, 128, 256, 384]) {
  await redis.unlink('bench:buffer');
  const fill = 'y'.repeat(2 ** 20);
  for (let i = 0; i < mib; i++) await redis.append('bench:buffer', fill);
  await redis.config('RESETSTAT');
  for (let i = 0; i < 40; i++) await redis.append('bench:buffer', chunk);
  console.log(
    `  ${String(mib).padStart(4)} MiB: ${(await usecPerCall('append')).toFixed(0).padStart(5)} µs a call`,
  );
}
await redis.unlink('bench:buffer', 'bench:append');
redis.disconnect();
await stopAll();
