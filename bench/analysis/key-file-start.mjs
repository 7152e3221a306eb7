// How long an ingest takes to start on a large WRITE_KEYS_FILE: spawn to its first /healthz 200,
// on 100,000 keys from a file against one key in WRITE_KEYS (the baseline), alternating, on a
// Redis of its own. The file's keys are read again, at the same cost, each time it changes.
// Not a scenario of `make bench`; an analysis for the key files (docs/operations.md).
// Usage: node bench/analysis/key-file-start.mjs [rounds]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ROOT, startStack, stopAll } from '../lib.mjs';

const rounds = Number(process.argv[2] ?? 3);
const bench = await startStack();
const dir = mkdtempSync(join(tmpdir(), 'spool-key-file-start-'));
const keyFile = join(dir, 'write-keys');
writeFileSync(
  keyFile,
  Array.from({ length: 100_000 }, (_, i) => `key-${i}-${'x'.repeat(36)}:web`).join('\n'),
);

async function startMs(env) {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [join(ROOT, 'apps/ingest/dist/main.js')], {
    env: {
      ...process.env,
      REDIS_URL: bench.url,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: 'ignore',
  });
  for (;;) {
    const up = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const ms = Math.round(performance.now() - started);
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('exit', resolve));
  return ms;
}

const results = { 'one key (WRITE_KEYS)': [], '100,000 keys (WRITE_KEYS_FILE)': [] };
for (let round = 0; round < rounds; round++) {
  results['one key (WRITE_KEYS)'].push(await startMs({ WRITE_KEYS: 'key-one-000000:web' }));
  results['100,000 keys (WRITE_KEYS_FILE)'].push(await startMs({ WRITE_KEYS_FILE: keyFile }));
}
for (const [side, ms] of Object.entries(results))
  console.log(`${side}: ${ms.join(', ')} ms to the first /healthz`);
rmSync(dir, { recursive: true, force: true });
await stopAll();
process.exit(0);
