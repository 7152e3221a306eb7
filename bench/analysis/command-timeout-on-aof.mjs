// REDIS_COMMAND_TIMEOUT on a Redis with AOF and appendfsync everysec (what the README asks and
// Compose runs; the scenarios run without AOF): 50 clients send ~880 KB bodies of 2,500 events,
// each event with a messageId of its own as SDKs send, for 20 s a side, the timeouts alternated
// on one stack. Prints each side's answers and its appends answered 503 "may be stored"
// (spool_ingest_failures_total{operation="append"}): Redis holds writes up to 2 s while an
// everysec AOF's fsync lags, and a command timeout below that fails appends Redis then stores.
// Usage: node bench/analysis/command-timeout-on-aof.mjs [rounds] [timeouts, e.g. 1s,3s]
import { drainBuffers, load, startStack, stopAll } from '../lib.mjs';

const [rounds = '2', timeouts = '1s,3s'] = process.argv.slice(2);
const STREAM = 'aof';
const run = Date.now().toString(36);
const pad = 'x'.repeat(250);
const event = (id) =>
  `{"messageId":"${id}","event":"page","userId":"u-123","properties":{"path":"/pricing","p":"${pad}"}}`;
const body = (tag) => (n) =>
  `[${Array.from({ length: 2_500 }, (_, i) => event(`${run}-${tag}-${n}-${i}`)).join(',')}]`;

const bench = await startStack({ fsync: 'everysec' });
const stopDraining = drainBuffers(bench, [STREAM]);
try {
  for (let round = 0; round < Number(rounds); round++) {
    for (const timeout of timeouts.split(',')) {
      const ingest = await bench.stack.addIngest({ REDIS_COMMAND_TIMEOUT: timeout });
      const result = await load(`${ingest.url}/v1/streams/${STREAM}/events`, {
        makeBody: body(`${round}-${timeout}`),
        connections: 50,
        seconds: 20,
      });
      const metrics = await (await fetch(`${ingest.url}/metrics`)).text();
      const mayBeStored = Number(
        /spool_ingest_failures_total\{operation="append"\} (\d+)/.exec(metrics)?.[1] ?? 0,
      );
      const answers = Object.fromEntries(
        Object.entries(result.statusCodes).map(([status, { count }]) => [status, count]),
      );
      console.log(
        `round ${round + 1}, REDIS_COMMAND_TIMEOUT=${timeout}: ${JSON.stringify(answers)}, appends answered "may be stored": ${mayBeStored}`,
      );
      await ingest.process.stop();
    }
  }
} finally {
  stopDraining();
  bench.redis.disconnect();
  await stopAll();
}
