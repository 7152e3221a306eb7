// How long Redis's main thread stops when a dedupe set of N messageIds expires (the sets of a
// DEDUPE_WINDOW expire whole), with lazyfree-lazy-expire no (Redis 7.0's default) and yes (what
// Spool's Redis settings set), alternating: a PING every 2 ms for 3 s after the set's expiry; the
// longest answer is the stop. Not a scenario of `make bench`; it backs the status page's warning.
// Usage: node bench/analysis/lazyfree-expire.mjs [N, default 3000000]
import { startStack, stopAll } from '../lib.mjs';

const N = Number(process.argv[2] ?? 3_000_000);
const { redis } = await startStack();
try {
  for (const mode of ['no', 'yes', 'no', 'yes']) {
    await redis.config('SET', 'lazyfree-lazy-expire', mode);
    const key = `lazyfree-test:${mode}:${Date.now()}`;
    for (let i = 0; i < N; i += 10_000) {
      // UUID-sized ids, as the SDKs send.
      const ids = Array.from(
        { length: Math.min(10_000, N - i) },
        (_, j) => `${(i + j).toString(16).padStart(8, '0')}-7a1c-4f1e-9b2d-0123456789ab`,
      );
      await redis.sadd(key, ...ids);
    }
    await redis.pexpire(key, 300);
    let longest = 0;
    const until = Date.now() + 3_000;
    while (Date.now() < until) {
      const sent = process.hrtime.bigint();
      await redis.ping();
      longest = Math.max(longest, Number(process.hrtime.bigint() - sent) / 1e6);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const gone = (await redis.exists(key)) === 0;
    console.log(
      `lazyfree-lazy-expire ${mode.padEnd(3)}: a set of ${N} ids ${gone ? 'expired' : 'NOT expired'}; longest PING ${longest.toFixed(1)} ms`,
    );
  }
} finally {
  redis.disconnect();
  await stopAll();
}
