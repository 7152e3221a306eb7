// Where the append script spends Redis's CPU with dedupe on: runs the real script and copies of
// it with one step taken out, 3,000 calls of 100 events each, and prints Redis CPU (INFO cpu) per
// call. Not a scenario of `make bench` (the variants are not the product); an analysis to rerun
// when the script changes. Usage: node bench/analysis/append-script-variants.mjs [--steady]
//   --steady  first fills the two older sets of the window with 300,000 ids each
import { readFileSync } from 'node:fs';
import { ROOT, startStack, stopAll } from '../lib.mjs';

const steady = process.argv.includes('--steady');
const lua = (file) => readFileSync(`${ROOT}/packages/shared/lua/${file}`, 'utf8');
const script = lua('append-6.lua').replace('--- @include "now-ms"', lua('includes/now-ms.lua'));
const without = (text, replacement) => {
  if (!script.includes(text)) throw new Error(`the script no longer has: ${text}`);
  return script.replace(text, replacement);
};
const VARIANTS = {
  'dedupe off': { lua: script, window: 0 },
  'on, without SADD': {
    lua: without(
      "      redis.call('SADD', bucketKey, unpack(ARGV, from, math.min(from + SLICE - 1, lastId)))",
      '      local _ = from',
    ),
    window: 600_000,
  },
  'on, without SMISMEMBER': {
    lua: without(
      "local found = redis.call('SMISMEMBER', key, unpack(ARGV, from, math.min(from + SLICE - 1, lastId)))",
      'local found = {}',
    ),
    window: 600_000,
  },
  'on (the script as it is)': { lua: script, window: 600_000 },
  // Floors: what Redis charges for the 100 ids themselves, whatever the script does with them.
  'floor: a script given the lines alone, doing nothing': { lua: 'return 1', window: 0 },
  'floor: a script given the lines and ids, doing nothing': { lua: 'return 1', window: 600_000 },
  'floor: SADD of the ids, no script': { sadd: true, window: 600_000 },
};
const CALLS = 3_000;

const { redis } = await startStack();
const cpuSeconds = async () => {
  const info = await redis.info('cpu');
  return Number(/used_cpu_user:([\d.]+)/.exec(info)[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)[1]);
};
const line = (id) =>
  `{"messageId":"${id}","event":"page","userId":"u-123","receivedAt":"2026-12-01T00:00:00.000Z"}\n`;
for (const [index, [name, { lua: source, window, sadd }]] of Object.entries(VARIANTS).entries()) {
  if (source) redis.defineCommand(`variant${index}`, { numberOfKeys: 6, lua: source });
  const tag = `{variant-${index}}`;
  const keys = ['buf', 'gen', 'since', 'stats', 'sealed-bytes', 'seen'].map((key) => `${tag}:${key}`);
  if (steady && window > 0) {
    const bucketMs = window / 2;
    const bucket = Math.floor(Date.now() / bucketMs);
    for (const back of [1, 2]) {
      for (let k = 0; k < 30; k += 1) {
        const ids = Array.from({ length: 10_000 }, (_, i) => `old-${back}-${k}-${i}`);
        await redis.sadd(`${tag}:seen:${bucketMs}:${bucket - back}`, ...ids);
      }
    }
  }
  const before = await cpuSeconds();
  const pending = [];
  for (let call = 0; call < CALLS; call += 1) {
    const ids = Array.from({ length: 100 }, (_, i) => `${tag}-${call}-${i}-0123456789abcdef`);
    // The ids' lines (in order: ''), no memory reserve (''), then the ids.
    const args = window > 0 ? ['', '', ...ids] : ['', ''];
    pending.push(
      sadd
        ? redis.sadd(`${tag}:seen:floor`, ...ids)
        : redis[`variant${index}`](...keys, ids.map(line).join(''), 100, 5e8, window, ...args),
    );
    if (pending.length >= 32) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  console.log(
    `${name.padEnd(56)} ${((((await cpuSeconds()) - before) / CALLS) * 1e6).toFixed(0)} µs of Redis CPU a call`,
  );
}
redis.disconnect();
await stopAll();
