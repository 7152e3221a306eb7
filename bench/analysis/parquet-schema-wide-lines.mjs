// What inferring a Parquet schema costs a line as events grow wide: SchemaBuilder.addLine on
// events of 50, 900 and 1,001 fields (past MAX_COLUMNS: kept whole), this build against another
// build's parquet-schema.js, alternating in one process. Not a scenario of `make bench`.
// Usage: node bench/analysis/parquet-schema-wide-lines.mjs <another build's apps/flusher/dist/parquet-schema.js> [rounds, default 3]
// (build the other checkout with `pnpm -s turbo run build`; its file must sit in its own dist/,
// beside the modules it imports).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [other, rounds = 3] = process.argv.slice(2);
if (!other) throw new Error('usage: parquet-schema-wide-lines.mjs <other parquet-schema.js> [rounds]');
const builds = [
  ['this build', await import('../../apps/flusher/dist/parquet-schema.js')],
  ['the other', await import(pathToFileURL(resolve(other)).href)],
];
for (let round = 1; round <= Number(rounds); round++) {
  for (const fields of [50, 900, 1001]) {
    const event = { receivedAt: '2026-12-07T00:00:00.000Z', messageId: 'm' };
    for (let f = 0; f < fields; f++) event[`a${f}`] = f;
    const line = Buffer.from(JSON.stringify(event));
    const lines = fields > 100 ? 300 : 30_000;
    const said = [];
    for (const [name, { SchemaBuilder }] of builds) {
      const builder = new SchemaBuilder();
      let whole = 0;
      const start = performance.now();
      for (let i = 0; i < lines; i++) if (!builder.addLine(line, 0, line.length)) whole += 1;
      said.push(
        `${name} ${(((performance.now() - start) / lines) * 1000).toFixed(1)} µs (${whole} of ${lines} whole)`,
      );
    }
    console.log(`round ${round}, ${fields} fields a line: ${said.join(', ')}`);
  }
}
