// What reading a 1 MB body costs the ingest when its keys are written with escapes
// (apps/ingest/src/body/escaped-keys.ts), against JSON.parse of the same text, in this process:
// for each shape, a body with one plain key, one key JSON.parse is given unescaped ("esc\u0061ped"),
// and one that must stay escaped ("quo\"ted"), read by the token pass. Milliseconds of the 4th
// of 4 reads each (warm), so a shape's first read in a fresh process costs more.
// Usage: node bench/analysis/escaped-keys-cost.mjs        (after the build). Not a scenario of `make bench`.
import { parseWeighedJson } from '../../apps/ingest/dist/body/exact-json.js';

const MB = 1000 * 1000;
const shapes = {
  numbers: (key) =>
    `{${key}:[${Array(MB / 2 - 20)
      .fill(0)
      .join(',')}]}`,
  'empty arrays': (key) =>
    `{${key}:[${Array(Math.floor(MB / 3) - 10)
      .fill('[]')
      .join(',')}]}`,
  'nested arrays': (key) => {
    const depth = Math.floor((MB - 20) / 2);
    return `[{${key}:1},${'['.repeat(depth)}${']'.repeat(depth)}]`;
  },
  events: (key) =>
    `[${Array.from({ length: 2400 }, (_, i) => `{${key}:1,"event":"e","messageId":"m-${i}","props":{"a":"${'x'.repeat(330)}","n":${i}}}`).join(',')}]`,
};
const warm = (read) => {
  let ms = 0;
  for (let i = 0; i < 4; i++) {
    const started = process.hrtime.bigint();
    read();
    ms = Number(process.hrtime.bigint() - started) / 1e6;
  }
  return ms;
};
for (const [name, make] of Object.entries(shapes)) {
  for (const key of ['"plain"', '"esc\\u0061ped"', '"quo\\"ted"']) {
    const text = make(key);
    const parse = warm(() => JSON.parse(text));
    const read = warm(() => parseWeighedJson(text));
    console.log(
      `${name.padEnd(14)} ${key.padEnd(16)} ${(text.length / MB).toFixed(2)} MB: JSON.parse ${parse.toFixed(1)} ms, ` +
        `parseWeighedJson ${read.toFixed(1)} ms (${(read / parse).toFixed(1)} ×)`,
    );
  }
}
