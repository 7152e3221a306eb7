// g. What messageId dedupe costs in Redis: the bytes its sets take per million ids, measured
//    with MEMORY USAGE over every set after a million ids went through the ingest, for two id
//    shapes: a UUID (36 characters) and a 64-character id. Reported, no target; the baseline is
//    the ids' own bytes.
import { randomUUID } from 'node:crypto';
import { markdown, startIngest, startStack } from './lib.mjs';

const IDS = 1_000_000;
const PER_REQUEST = 1_000;
const SHAPES = {
  'UUID (36 characters)': () => randomUUID(),
  '64 characters': () => `${randomUUID()}-${randomUUID()}`.slice(0, 64),
};

async function setBytes(redis, pattern) {
  let bytes = 0;
  let members = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      bytes += Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
      // The registry of the sets' widths (a hash of a few fields) counts in the bytes, holds no id.
      if (!key.endsWith(':widths')) members += await redis.scard(key);
    }
  } while (cursor !== '0');
  return { bytes, members };
}

export async function run() {
  const redis = await startStack();
  const ingest = await startIngest(redis, {
    DEDUPE_WINDOW: '1h',
    MAX_EVENTS_PER_REQUEST: String(PER_REQUEST),
  });
  const rows = [];
  const measured = {};
  for (const [shape, newId] of Object.entries(SHAPES)) {
    const stream = `bench-g-${Object.keys(measured).length}`;
    let idBytes = 0;
    const makeBody = () => {
      const events = [];
      for (let i = 0; i < PER_REQUEST; i += 1) {
        const id = newId();
        idBytes += id.length;
        events.push(`{"messageId":"${id}"}`);
      }
      return `[${events.join(',')}]`;
    };
    // A fixed number of requests, not a duration: IDS ids exactly.
    for (let sent = 0; sent < IDS / PER_REQUEST; sent += 10) {
      const bodies = Array.from({ length: 10 }, makeBody);
      await Promise.all(
        bodies.map((body) =>
          fetch(`${ingest}/v1/streams/${stream}/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          }).then((response) => response.text()),
        ),
      );
    }
    const { bytes, members } = await setBytes(redis.redis, `spool:{${stream}}:seen:*`);
    const perMillion = (bytes / members) * 1e6;
    measured[shape] = { ids: members, bytes, bytesPerMillionIds: Math.round(perMillion), idBytes };
    rows.push([
      shape,
      members,
      `${(idBytes / members).toFixed(0)} B`,
      `${(perMillion / 2 ** 20).toFixed(1)} MiB`,
      `${(bytes / members).toFixed(0)} B`,
    ]);
  }
  redis.redis.disconnect();
  const uuid = measured['UUID (36 characters)'];
  return {
    name: 'g. dedupe memory',
    target: 'reported, no target',
    ratio: uuid.bytes / uuid.idBytes,
    met: true,
    measured,
    markdown: markdown(
      'g. Dedupe memory in Redis (MEMORY USAGE of the sets), per million messageIds',
      ['id shape', 'ids', 'id itself', 'per million ids', 'per id'],
      rows,
    ),
  };
}
