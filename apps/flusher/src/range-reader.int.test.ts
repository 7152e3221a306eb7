import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestRedis, randomName, testServices, waitFor } from '@spool/testkit';
import { type ManagedProcess, startRedisServer } from '@spool/testkit/local-stack';
import { freePort } from '@spool/testkit/ports';
import { Redis } from 'ioredis';
import { RangeReader } from './range-reader.js';
import { CHUNK_BUFFERS, type Chunk, readSealed } from './sealed-reader.js';

const redis = createTestRedis();
const opened: Redis[] = [redis];
afterAll(async () => {
  for (const client of opened) client.disconnect();
});

/** Bytes that look like RESP inside the value: a reader that parses the body would trip on them. */
function hostileValue(bytes: number): Buffer {
  const value = randomBytes(bytes);
  const resp = Buffer.from('\r\n$-1\r\n+OK\r\n-ERR x\r\n*2\r\n$3\r\n');
  for (let at = 0; at + resp.length < bytes; at += 4099) resp.copy(value, at);
  return value;
}

describe('RangeReader', () => {
  it('reads any range of a binary value exactly, many reads in flight at once', async () => {
    const key = randomName('range');
    const value = hostileValue(1_500_000);
    await redis.set(key, value);
    const reader = await RangeReader.connect(redis.options);
    try {
      const ranges: Array<[number, number]> = [
        [0, 0],
        [0, 65_535],
        [65_530, 65_541],
        [1, 1_000_000],
        [1_499_990, 1_499_999],
        [1_499_990, 2_000_000], // past the end: GETRANGE stops at the end
        [0, value.length - 1],
      ];
      const reads = ranges.map(([start, end]) =>
        reader.getrange(key, start, end, Buffer.alloc(end - start + 1)),
      );
      const results = await Promise.all(reads);
      for (const [i, [start, end]] of ranges.entries()) {
        expect(results[i]?.equals(value.subarray(start, end + 1))).toBe(true);
      }
      expect((await reader.getrange(randomName('missing'), 0, 10, Buffer.alloc(11))).length).toBe(0);
    } finally {
      reader.close();
    }
  });

  it('authenticates as an ACL user and reads from the database of the URL', async () => {
    const user = randomName('reader');
    // Only what the flusher's reads need: no CLIENT, so naming the connection is refused (and skipped).
    await redis.call('ACL', 'SETUSER', user, 'on', '>reader-secret-1', '~*', '+auth', '+select', '+getrange');
    const key = randomName('db2');
    const inDb2 = new Redis(testServices().redisUrl, { db: 2 });
    opened.push(inDb2);
    await inDb2.set(key, 'in database two');
    const url = new URL(testServices().redisUrl);
    url.username = user;
    url.password = 'reader-secret-1';
    url.pathname = '/2';
    const client = new Redis(url.toString(), { lazyConnect: true });
    opened.push(client);
    const reader = await RangeReader.connect(client.options);
    try {
      expect((await reader.getrange(key, 0, 99, Buffer.alloc(100))).toString()).toBe('in database two');
    } finally {
      reader.close();
      await redis.call('ACL', 'DELUSER', user);
    }
  });

  it('fails clearly on a wrong password and on a refused connection', async () => {
    const user = randomName('reader');
    await redis.call('ACL', 'SETUSER', user, 'on', '>right-password-1', '~*', '+@all');
    const url = new URL(testServices().redisUrl);
    url.username = user;
    url.password = 'wrong-password';
    const wrong = new Redis(url.toString(), { lazyConnect: true });
    const refused = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true });
    opened.push(wrong, refused);
    try {
      await expect(RangeReader.connect(wrong.options)).rejects.toThrow(/Redis answered: WRONGPASS/);
      await expect(RangeReader.connect(refused.options)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await redis.call('ACL', 'DELUSER', user);
    }
  });

  it('fails a read when Redis drops the connection, instead of waiting for ever', async () => {
    const key = randomName('dropped');
    await redis.set(key, 'some bytes');
    const name = randomName('reader');
    const reader = await RangeReader.connect(redis.options, name);
    expect((await reader.getrange(key, 0, 3, Buffer.alloc(4))).toString()).toBe('some');
    const list = (await redis.client('LIST')) as string;
    const [, id] = list.match(new RegExp(`id=(\\d+) [^\\n]*name=${name} `)) ?? [];
    expect(id).toBeDefined();
    await redis.client('KILL', 'ID', id as string);
    await expect(reader.getrange(key, 0, 3, Buffer.alloc(4))).rejects.toThrow();
  });
});

describe('readSealed', () => {
  it('yields the whole value in chunks, reusing a few buffers as they are released', async () => {
    const key = randomName('sealed');
    const value = hostileValue(3 * 1024 * 1024 + 12_345);
    value[value.length - 1] = 0x0a; // as every buffer the ingest writes ends
    await redis.set(key, value);
    const parts: Buffer[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for await (const chunk of readSealed(redis, key, value.length, 256 * 1024)) {
      parts.push(Buffer.from(chunk.data));
      buffers.add(chunk.data.buffer);
      chunk.release();
    }
    expect(Buffer.concat(parts).equals(value)).toBe(true);
    expect(parts.length).toBe(13);
    expect(buffers.size).toBeLessThanOrEqual(6);
  });

  it('reads no further ahead than its buffers while chunks are held', async () => {
    const key = randomName('held');
    const value = randomBytes(40 * 1024);
    await redis.set(key, value);
    const chunks = readSealed(redis, key, value.length, 1024);
    const held: Chunk[] = [];
    let pending = chunks.next();
    for (let i = 0; i < CHUNK_BUFFERS; i += 1) {
      held.push((await pending).value as Chunk);
      pending = chunks.next();
    }
    // Every buffer is out: the reader waits (however long it is given). Releasing one lets it go on.
    const waited = await Promise.race([
      pending,
      new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), 500)),
    ]);
    expect(waited).toBe('waiting');
    held[0]?.release();
    const after = await pending;
    expect(after.done).toBe(false);
    const next = after.value as Chunk;
    expect(next.data.equals(value.subarray(held.length * 1024, (held.length + 1) * 1024))).toBe(true);
    for (const chunk of [...held, next]) chunk.release();
    await chunks.return(undefined);
  });

  it('ends a value that does not end in a newline (written by hand) with one', async () => {
    const read = async (value: string, chunkBytes: number) => {
      const key = randomName('unterminated');
      await redis.set(key, value);
      const parts: string[] = [];
      for await (const chunk of readSealed(redis, key, value.length, chunkBytes)) {
        parts.push(chunk.data.toString());
        chunk.release();
      }
      return parts;
    };
    expect(await read('{"a":1}\n{"b":2}', 4)).toEqual(['{"a"', ':1}\n', '{"b"', ':2}', '\n']);
    expect(await read('{"a":1}\n', 4)).toEqual(['{"a"', ':1}\n']);
  });

  it('refuses a sealed key shorter than its sealed length', async () => {
    const key = randomName('short');
    await redis.set(key, 'abc');
    const read = async () => {
      for await (const chunk of readSealed(redis, key, 10)) chunk.release();
    };
    await expect(read()).rejects.toThrow(/shorter than its sealed length 10/);
  });
});

describe("RangeReader, at a Redis's limits", () => {
  const MiB = 1024 * 1024;
  const dir = mkdtempSync(join(tmpdir(), 'reader-limits-'));
  let server: ManagedProcess | undefined;
  let admin: Redis;
  beforeAll(async () => {
    const port = await freePort();
    // A Redis of its own: these limits are not the shared one's to change.
    server = startRedisServer('reader-limits', port, dir, [
      '--client-output-buffer-limit',
      'normal 1mb 512kb 5',
    ]);
    admin = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
    await waitFor(async () => admin.ping().catch(() => undefined), 10_000, 'a Redis of its own');
  });
  afterAll(async () => {
    admin?.disconnect();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says Redis refused the connection for its maxclients, where a read said only that a pipe broke', async () => {
    await admin.config('SET', 'maxclients', '1');
    try {
      await expect(RangeReader.connect(admin.options)).rejects.toThrow(/max number of clients reached/);
    } finally {
      await admin.config('SET', 'maxclients', '10000');
    }
  });

  it('says why Redis may have closed it mid-read: a client-output-buffer-limit under a read', async () => {
    await admin.set('big', Buffer.alloc(5 * MiB, 'x'));
    const reader = await RangeReader.connect(admin.options);
    try {
      await expect(reader.getrange('big', 0, 4 * MiB - 1, Buffer.alloc(4 * MiB))).rejects.toThrow(
        /closed the connection before answering \(Redis closes a client whose replies pass its client-output-buffer-limit/,
      );
    } finally {
      reader.close();
    }
  });
});
