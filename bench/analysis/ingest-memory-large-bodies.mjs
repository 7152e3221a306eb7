// The ingest's peak memory under many large requests at once (docs/operations.md, "The ingest's
// memory"): 50 keep-alive clients each sending a 945 KB JSON body of 2,400 events (their ids fixed,
// so dedupe keeps Redis small) for 8 s, the ingest's RSS sampled every 100 ms, with V8's heap held to
// 128 and 256 MB as a container's memory would hold it. Prints the peak and the answers by code;
// a process that dies says so. With another build's main.js, both builds, alternating.
// Usage: node bench/analysis/ingest-memory-large-bodies.mjs [<other build's apps/ingest/dist/main.js>]
import http from 'node:http';
import { join } from 'node:path';
import { ROOT, rssMiB, startStack, stopAll } from '../lib.mjs';

const CLIENTS = 50;
const SECONDS = 8;
const builds = { this: join(ROOT, 'apps/ingest/dist/main.js') };
if (process.argv[2]) builds.other = process.argv[2];

const events = Array.from({ length: 2_400 }, (_, i) => ({
  event: 'e',
  messageId: `fixed-${i}`,
  props: { a: 'x'.repeat(330), n: i },
}));
const body = Buffer.from(JSON.stringify(events));

/** CLIENTS clients posting `body` until the time is up: the answers by status and code. */
async function load(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const end = Date.now() + SECONDS * 1000;
  const answers = {};
  const count = (key) => {
    answers[key] = (answers[key] ?? 0) + 1;
  };
  const post = () =>
    new Promise((resolve) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/streams/memory/events',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk) => {
            text += chunk;
          });
          response.on('end', () => {
            const code = response.statusCode === 202 ? '' : ` ${/"code":"(\w+)"/.exec(text)?.[1] ?? ''}`;
            count(`${response.statusCode}${code}`);
            resolve();
          });
        },
      );
      request.on('error', (error) => {
        count(error.code ?? 'error');
        resolve();
      });
      request.end(body);
    });
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < end) await post();
    }),
  );
  agent.destroy();
  return answers;
}

for (const heapMb of [128, 256]) {
  for (const [name, main] of Object.entries(builds)) {
    const bench = await startStack();
    const ingest = await bench.stack.addIngest(
      {
        FLUSH_THRESHOLD_BYTES: '480MiB',
        MAX_BUFFER_BYTES: '512MiB',
        NODE_OPTIONS: `--max-old-space-size=${heapMb}`,
      },
      { main },
    );
    const { pid } = ingest.process;
    const idle = rssMiB(pid);
    let peak = idle;
    let died = false;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssMiB(pid));
      } catch {
        died = true;
      }
    }, 100);
    const answers = await load(Number(new URL(ingest.url).port));
    clearInterval(sampler);
    if (!ingest.process.running) died = true;
    console.log(
      `${name} build, heap ${heapMb} MB: idle ${idle.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB${died ? ', DIED' : ''}; answers ${JSON.stringify(answers)}`,
    );
    await stopAll();
  }
}
