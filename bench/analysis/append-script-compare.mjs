// Redis's CPU per call of the append script as it is against the same script at another git
// revision, dedupe on, every id new: calls of 1 event and of 100, the two scripts alternating over
// 6 rounds, the median of each printed. For a change to the script: what it costs Redis, beside
// what it cost before, on the same server in the same minutes. Not a scenario of `make bench`.
// Usage: node bench/analysis/append-script-compare.mjs <git revision>
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ROOT, startStack, stopAll } from '../lib.mjs';

const revision = process.argv[2];
if (!revision) {
  console.error('usage: node bench/analysis/append-script-compare.mjs <git revision>');
  process.exit(2);
}
const SCRIPT = 'packages/shared/lua/append-6.lua';
const include = readFileSync(`${ROOT}/packages/shared/lua/includes/now-ms.lua`, 'utf8');
const withIncludes = (text) => text.replace('--- @include "now-ms"', include);
const scripts = {
  before: withIncludes(
    execFileSync('git', ['show', `${revision}:${SCRIPT}`], { cwd: ROOT, encoding: 'utf8' }),
  ),
  now: withIncludes(readFileSync(`${ROOT}/${SCRIPT}`, 'utf8')),
};

const { redis } = await startStack();
for (const [name, lua] of Object.entries(scripts)) redis.defineCommand(name, { numberOfKeys: 6, lua });
const cpuSeconds = async () => {
  const info = await redis.info('cpu');
  return Number(/used_cpu_user:([\d.]+)/.exec(info)[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)[1]);
};
const line = (id) =>
  `{"messageId":"${id}","event":"page","userId":"u-123","receivedAt":"2026-12-01T00:00:00.000Z"}\n`;

let run = 0;
/** µs of Redis CPU a call, over `calls` calls of `events` events, each in a stream of its own. */
async function usecPerCall(name, events, calls) {
  const tag = `{compare-${name}-${events}-${run++}}`;
  const keys = ['buf', 'gen', 'since', 'stats', 'sealed-bytes', 'seen'].map((key) => `${tag}:${key}`);
  const before = await cpuSeconds();
  for (let call = 0; call < calls; call += 1) {
    const ids = Array.from({ length: events }, (_, i) => `${tag}-${call}-${i}`);
    // Since REDIS_MEMORY_RESERVE the script takes the reserve before the ids (RESERVE=10% to
    // measure its check; none by default).
    const reserve = /local FIRST_ID = 7/.test(scripts[name]) ? [process.env.RESERVE ?? ''] : [];
    await redis[name](...keys, ids.map(line).join(''), events, 1e12, 600_000, '', ...reserve, ...ids);
  }
  const usec = (((await cpuSeconds()) - before) / calls) * 1e6;
  await redis.del(...keys, ...(await redis.keys(`${tag}:seen*`)));
  return usec;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
for (const [events, calls] of [
  [1, 20_000],
  [100, 3_000],
]) {
  const results = { before: [], now: [] };
  for (let round = 0; round < 6; round += 1) {
    for (const name of round % 2 === 0 ? ['before', 'now'] : ['now', 'before']) {
      results[name].push(await usecPerCall(name, events, calls));
    }
  }
  console.log(
    `${String(events).padStart(3)} event(s) a call: ${revision} ${median(results.before).toFixed(1)} µs, now ${median(results.now).toFixed(1)} µs of Redis CPU (rounds: ${results.before.map((v) => v.toFixed(1)).join(' ')} | ${results.now.map((v) => v.toFixed(1)).join(' ')})`,
  );
}
redis.disconnect();
await stopAll();
