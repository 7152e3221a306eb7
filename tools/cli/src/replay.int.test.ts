import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from '@jest/globals';
import { type ManifestLine, readManifest, writeManifestPart } from '@spool/flusher/dist/manifests.js';
import { defineSpoolCommands, type OutputFormat } from '@spool/shared';
import {
  createTestRedis,
  createTestS3,
  listObjectKeys,
  randomName,
  readSpoolObject,
  saveObject,
  testServices,
  until,
} from '@spool/testkit';
import { duckdbQuery } from '@spool/testkit/duckdb';
import { type HeldRequest, S3FaultProxy } from '@spool/testkit/local-stack';
import { pino } from 'pino';
import { replay } from './replay.js';
import { landGenerations, runCli, s3Env } from './test-support.js';

const { s3: services } = testServices();
const redis = createTestRedis();
defineSpoolCommands(redis);
const s3 = createTestS3();

afterAll(async () => {
  await redis.quit();
  s3.destroy();
});

/** `spool replay` (or another command), as run: the built command, S3 under `prefix`. */
const run = (command: string, prefix: string, args: string[]) => runCli(command, args, s3Env(prefix));

/** `spool replay`'s options for one stream's day, copied under `target` (in `format`, if given). */
const dayReplay = (stream: string, day: string, target: string, format?: string) => [
  ...['--stream', stream, '--from', day, '--to', day, '--to-prefix', target],
  ...(format ? ['--format', format] : []),
];

/** replay()'s options for one stream's day under `prefix`, copied as zstd under `target` (run in this process). */
const dayReplayOptions = (stream: string, day: string, prefix: string, target: string) => ({
  s3,
  bucket: services.bucket,
  fromPrefix: prefix,
  toPrefix: target,
  stream,
  fromDay: day,
  toDay: day,
  format: 'ndjson.zst' as const,
  partBytes: 5 * 1024 * 1024,
  logger: pino({ level: 'silent' }),
});

/** The keys replay writes for `keys` (landed under `prefix`): under `target`, with `extension`. */
const copiesOf = (keys: string[], prefix: string, target: string, extension: string) =>
  keys.map((key) => `${target}${key.slice(prefix.length).replace(/\.ndjson\.gz$/, extension)}`).sort();
const land = (prefix: string, count: number, eventsEach = 200, format?: OutputFormat | OutputFormat[]) =>
  landGenerations(redis, s3, prefix, count, eventsEach, format);

/** One generation landed under `prefix`, its lines, and a way to put other bytes in its place under its metadata. */
async function landOneToRewrite(prefix: string, format: OutputFormat = 'ndjson.gz') {
  const { stream, day, keys } = await land(prefix, 1, 200, format);
  const [landed] = keys as [string];
  const head = await s3.send(new HeadObjectCommand({ Bucket: services.bucket, Key: landed }));
  const lines = format === 'parquet' ? [] : (await readSpoolObject(s3, services.bucket, landed)).lines;
  const rewrite = (body: Buffer) =>
    s3.send(
      new PutObjectCommand({ Bucket: services.bucket, Key: landed, Body: body, Metadata: head.Metadata }),
    );
  return { stream, day, landed, lines, rewrite };
}

/** Takes out the manifests under `prefix`, as a day landed before Spool wrote them has none. */
async function deleteManifests(prefix: string): Promise<void> {
  for (const key of await listObjectKeys(s3, services.bucket, `${prefix}_manifests/`)) {
    await s3.send(new DeleteObjectCommand({ Bucket: services.bucket, Key: key }));
  }
}

/** Each Parquet object's rows as `gen:n`, read by DuckDB from the object's bytes. */
async function parquetRows(keys: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'spool-replay-test-'));
  try {
    const files = await Promise.all(
      keys.map(async (key, i) => {
        const file = join(dir, `${i}.parquet`);
        await saveObject(s3, services.bucket, key, file);
        return `'${file}'`;
      }),
    );
    const rows = await duckdbQuery(`SELECT gen, n FROM read_parquet([${files.join(', ')}])`);
    return rows.map(({ gen, n }) => `${gen}:${n}`).sort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An object's metadata changed, its bytes the same: what `aws s3 cp --metadata … --metadata-directive REPLACE` leaves. */
async function editMetadata(key: string, edit: Record<string, string>): Promise<void> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: services.bucket, Key: key }));
  await s3.send(
    new PutObjectCommand({
      Bucket: services.bucket,
      Key: key,
      Body: await objectBytes(key),
      Metadata: { ...head.Metadata, ...edit },
    }),
  );
}

async function objectBytes(key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: services.bucket, Key: key }));
  return Buffer.from((await object.Body?.transformToByteArray()) ?? []);
}

/**
 * A second `spool replay` with the same options finds every copy there and writes nothing: no
 * copy, and no manifest (each run PUT the day's manifest again, the same bytes).
 */
async function expectRerunWritesNothing(prefix: string, args: string[], copies: string[]) {
  const before = await etags(copies);
  const proxy = await S3FaultProxy.start(services.endpoint);
  try {
    const writes: string[] = [];
    // Watched, never held: the watcher only notes each write that passes.
    void proxy.holdNext((method, url) => {
      if (method !== 'GET' && method !== 'HEAD') writes.push(`${method} ${url.pathname}`);
      return false;
    }, 60_000);
    const second = runCli('replay', args, { ...s3Env(prefix), S3_ENDPOINT: proxy.endpoint });
    expect(await second.exited).toBe(0);
    expect(second.out()).toContain(
      `replayed: ${copies.length} of ${copies.length} objects, 0 written, ${copies.length} already there`,
    );
    expect(writes).toEqual([]);
  } finally {
    await proxy.close();
  }
  expect(await etags(copies)).toEqual(before);
}

async function etags(keys: string[]): Promise<string[]> {
  return Promise.all(
    keys.map(
      async (key) => (await s3.send(new HeadObjectCommand({ Bucket: services.bucket, Key: key }))).ETag ?? '',
    ),
  );
}

/**
 * Ctrl-C (or `signal`), then waits until the run says it is stopping: the signal seen before the test lets the
 * held request go (a signal and a reply arriving together are taken in either order).
 */
async function stopAndWaitForWord(
  run: ReturnType<typeof runCli>,
  signal: 'SIGINT' | 'SIGTERM' = 'SIGINT',
): Promise<void> {
  run.child.kill(signal);
  await until('replay to say it is stopping', async () => /^spool replay: stopping: /m.test(run.err()));
}

/**
 * Runs `spool replay` through an S3 proxy that lets its first copy's write through and holds its
 * second's, then calls `act` with the run and that held write.
 */
async function atSecondCopy(
  prefix: string,
  target: string,
  args: string[],
  act: (replay: ReturnType<typeof runCli>, held: HeldRequest, proxy: S3FaultProxy) => Promise<void>,
): Promise<void> {
  const proxy = await S3FaultProxy.start(services.endpoint);
  try {
    const writesCopy = (method: string, url: URL) =>
      method === 'PUT' && url.pathname.startsWith(`/${services.bucket}/${target}stream`);
    const firstCopy = proxy.holdNext(writesCopy, 60_000);
    const replay = runCli('replay', args, { ...s3Env(prefix), S3_ENDPOINT: proxy.endpoint });
    (await firstCopy)?.release();
    const held = await proxy.holdNext(writesCopy, 60_000);
    if (!held) throw new Error('the second copy was never written');
    await act(replay, held, proxy);
  } finally {
    await proxy.close();
  }
}

describe('spool replay', () => {
  it('re-encodes a day as zstd under another prefix: the same lines, a manifest that verifies, and nothing new on a second run', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, keys } = await land(prefix, 3);
    const args = dayReplay(stream, day, target, 'ndjson.zst');

    const first = run('replay', prefix, args);
    expect(await first.exited).toBe(0);
    expect(first.out()).toContain('replayed: 3 of 3 objects, 3 written, 0 already there');
    const copies = await listObjectKeys(s3, services.bucket, `${target}stream=`);
    expect(copies).toEqual(copiesOf(keys, prefix, target, '.ndjson.zst'));
    for (const [i, key] of keys.entries()) {
      const copy = copies.find((c) => c.endsWith(`-${i}.ndjson.zst`)) as string;
      expect((await readSpoolObject(s3, services.bucket, copy)).lines).toEqual(
        (await readSpoolObject(s3, services.bucket, key)).lines,
      );
    }
    // The copies' manifest checks out, content included.
    const verified = run('verify', target, ['--stream', stream, '--day', day, '--deep']);
    expect(await verified.exited).toBe(0);
    expect(verified.out()).toContain('3 objects in the manifest, read whole');

    await expectRerunWritesNothing(prefix, args, copies);
  });

  it('writes a copy again whose size is not what its manifest line says (cut short since), where a rerun took it as there and verify then passed', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day } = await land(prefix, 2);
    const args = dayReplay(stream, day, target, 'ndjson.zst');
    expect(await run('replay', prefix, args).exited).toBe(0);
    const [damaged] = await listObjectKeys(s3, services.bucket, `${target}stream=`);
    const whole = await objectBytes(damaged as string);
    const head = await s3.send(new HeadObjectCommand({ Bucket: services.bucket, Key: damaged }));
    await s3.send(
      new PutObjectCommand({
        Bucket: services.bucket,
        Key: damaged,
        Body: whole.subarray(0, 100),
        Metadata: head.Metadata,
      }),
    );
    const rerun = run('replay', prefix, args);
    expect(await rerun.exited).toBe(0);
    expect(rerun.out()).toContain('replayed: 2 of 2 objects, 1 written, 1 already there');
    expect((await objectBytes(damaged as string)).equals(whole)).toBe(true);
    const verified = run('verify', target, ['--stream', stream, '--day', day, '--deep']);
    expect(await verified.exited).toBe(0);
  });

  it("copies no object its day's manifest contradicts (another generation's content, one put beside them) and names those it lists that are gone, exiting 1", async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, keys } = await land(prefix, 4);
    const [changed, swappedIn, copied, gone] = keys as [string, string, string, string];
    // Generation 0 holds generation 1's bytes and metadata, its generation number put right: a
    // restore gone wrong. An object's copy put in another hour. Generation 3 deleted.
    const put = async (key: string, from: string, generation: string) => {
      const { Metadata } = await s3.send(new HeadObjectCommand({ Bucket: services.bucket, Key: from }));
      const Body = await objectBytes(from);
      const changedMetadata = { ...Metadata, 'spool-generation': generation };
      await s3.send(
        new PutObjectCommand({ Bucket: services.bucket, Key: key, Body, Metadata: changedMetadata }),
      );
    };
    await put(changed, swappedIn, '0');
    const beside = copied.replace(/hour=\d\d\//, 'hour=23/').replace(/-2\.ndjson\.gz$/, '-9.ndjson.gz');
    await put(beside, copied, '9');
    await s3.send(new DeleteObjectCommand({ Bucket: services.bucket, Key: gone }));

    const replayed = run('replay', prefix, dayReplay(stream, day, target, 'ndjson.zst'));
    expect(await replayed.exited).toBe(1);
    expect(replayed.err()).toContain(`spool replay: ${changed}: it is not what its day's manifest line says`);
    // Without the generation it refused, the run stops there: the others, run again without it.
    await s3.send(new DeleteObjectCommand({ Bucket: services.bucket, Key: changed }));
    const again = run('replay', prefix, dayReplay(stream, day, target, 'ndjson.zst'));
    expect(await again.exited).toBe(1);
    expect(again.err()).toContain(`spool replay: left out ${beside}: not in its day's manifest`);
    expect(again.err()).toContain(`spool replay: left out ${gone}: in its day's manifest, but not in S3`);
    expect(again.err()).toContain(`spool replay: left out ${changed}: in its day's manifest, but not in S3`);
    expect(again.out()).toContain('replayed: 2 of 2 objects');
    expect(await listObjectKeys(s3, services.bucket, `${target}stream=`)).toEqual(
      copiesOf([swappedIn, copied], prefix, target, '.ndjson.zst'),
    );
  });

  it('calls no object gone that lands, object then manifest line, while it lists the day (a day still being written)', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, keys } = await land(prefix, 2);
    const [first] = keys as [string];
    const [line] = (await readManifest(s3, services.bucket, prefix, stream, day)).values();
    // A flusher landing generation 7 as the object listing answers: its object, then its line.
    const landing = first.replace(/-0\.ndjson\.gz$/, '-7.ndjson.gz');
    let landed = false;
    // A client of its own that, as the object listing answers, lands the generation (through the
    // test's client), as a flusher would meanwhile.
    const landsMeanwhile = createTestS3();
    landsMeanwhile.middlewareStack.add(
      (next, context) => async (args) => {
        const answer = await next(args);
        const { Prefix } = args.input as { Prefix?: string };
        if (!landed && context.commandName === 'ListObjectsV2Command' && !Prefix?.includes('_manifests/')) {
          landed = true;
          const { Metadata } = await s3.send(new HeadObjectCommand({ Bucket: services.bucket, Key: first }));
          const Body = await objectBytes(first);
          await s3.send(
            new PutObjectCommand({
              Bucket: services.bucket,
              Key: landing,
              Body,
              Metadata: { ...Metadata, 'spool-generation': '7' },
            }),
          );
          const folder = `${prefix}_manifests/stream=${stream}/dt=${day}/`;
          await writeManifestPart(s3, services.bucket, `${folder}s0-7-1.ndjson`, [
            { ...(line as ManifestLine), key: landing, generation: 7 },
          ]);
        }
        return answer;
      },
      { step: 'initialize' },
    );
    const done = await replay({
      ...dayReplayOptions(stream, day, prefix, target),
      s3: landsMeanwhile,
    }).finally(() => landsMeanwhile.destroy());
    expect(landed).toBe(true);
    // Either copied, or left out as not yet in the manifest: never called gone.
    expect(done.leftOut.filter(({ why }) => why.includes('not in S3'))).toEqual([]);
    expect(done.written).toBe(2);
  });

  it('re-encodes a day as Parquet that DuckDB reads event for event, with a manifest that verifies', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, keys } = await land(prefix, 2, 300);
    const args = dayReplay(stream, day, target, 'parquet');

    const first = run('replay', prefix, args);
    expect(await first.exited).toBe(0);
    expect(first.out()).toContain('replayed: 2 of 2 objects, 2 written, 0 already there');
    const copies = await listObjectKeys(s3, services.bucket, `${target}stream=`);
    expect(copies).toEqual(copiesOf(keys, prefix, target, '.parquet'));
    const sent = (await Promise.all(keys.map((key) => readSpoolObject(s3, services.bucket, key))))
      .flatMap((object) => object.lines.map((line) => JSON.parse(line) as { gen: number; n: number }))
      .map(({ gen, n }) => `${gen}:${n}`)
      .sort();
    expect(await parquetRows(copies)).toEqual(sent);
    const verified = run('verify', target, ['--stream', stream, '--day', day, '--deep']);
    expect(await verified.exited).toBe(0);

    const second = run('replay', prefix, args);
    expect(await second.exited).toBe(0);
    expect(second.out()).toContain('replayed: 2 of 2 objects, 0 written, 2 already there');
    // The manifest keeps the first run's hashes of the copies: --deep still reads them.
    const again = run('verify', target, ['--stream', stream, '--day', day, '--deep']);
    expect(await again.exited).toBe(0);
    const manifest = await readManifest(s3, services.bucket, target, stream, day);
    expect([...manifest.values()].map((line) => line.objectSha256)).toEqual([
      expect.stringMatching(/^[0-9a-f]{64}$/),
      expect.stringMatching(/^[0-9a-f]{64}$/),
    ]);
  });

  it('copies Parquet objects as they are beside NDJSON ones re-encoded (--format parquet), and a second run writes nothing', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, keys } = await land(prefix, 3, 100, ['parquet', 'ndjson.gz', 'parquet']);
    const args = dayReplay(stream, day, target, 'parquet');

    const first = run('replay', prefix, args);
    expect(await first.exited).toBe(0);
    expect(first.out()).toContain('replayed: 3 of 3 objects, 3 written, 0 already there');
    const copies = await listObjectKeys(s3, services.bucket, `${target}stream=`);
    expect(copies).toEqual(copiesOf(keys, prefix, target, '.parquet'));
    for (const source of keys.filter((key) => key.endsWith('.parquet'))) {
      const copy = `${target}${source.slice(prefix.length)}`;
      expect((await objectBytes(copy)).equals(await objectBytes(source))).toBe(true);
    }
    const sent = [0, 1, 2].flatMap((gen) => Array.from({ length: 100 }, (_, n) => `${gen}:${n}`));
    expect(await parquetRows(copies)).toEqual(sent.sort());
    const verified = run('verify', target, ['--stream', stream, '--day', day, '--deep']);
    expect(await verified.exited).toBe(0);

    await expectRerunWritesNothing(prefix, args, copies);
  });

  it('copies a generation held in two formats once, from the one in the target format, and a second run writes nothing', async () => {
    const prefix = `${randomName('replay')}/`;
    const mixed = `${randomName('mixed')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, keys } = await land(prefix, 2, 50);
    // Two replays into one prefix: each generation there as zstd and as Parquet.
    for (const format of ['ndjson.zst', 'parquet']) {
      expect(await run('replay', prefix, dayReplay(stream, day, mixed, format)).exited).toBe(0);
    }
    expect(await listObjectKeys(s3, services.bucket, `${mixed}stream=`)).toHaveLength(4);

    const args = dayReplay(stream, day, target, 'parquet');
    const first = run('replay', mixed, args);
    expect(await first.exited).toBe(0);
    expect(first.out()).toContain('replayed: 2 of 2 objects, 2 written, 0 already there');
    const copies = await listObjectKeys(s3, services.bucket, `${target}stream=`);
    expect(copies).toEqual(copiesOf(keys, prefix, target, '.parquet'));
    for (const copy of copies) {
      // The Parquet source, copied as it is: not the zstd one re-encoded.
      expect(
        (await objectBytes(copy)).equals(await objectBytes(`${mixed}${copy.slice(target.length)}`)),
      ).toBe(true);
    }
    await expectRerunWritesNothing(mixed, args, copies);
  });

  it('takes dt=<day>/ for the day and no folder whose name merely starts with it (dt=<day>-old/)', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, keys } = await land(prefix, 1);
    const head = await s3.send(new HeadObjectCommand({ Bucket: services.bucket, Key: keys[0] }));
    // Spool's metadata and all: only its folder says it is no partition of the day.
    const beside = `${prefix}stream=${stream}/dt=${day}-old/hour=00/${stream}-9.ndjson.gz`;
    await s3.send(
      new PutObjectCommand({
        Bucket: services.bucket,
        Key: beside,
        Body: gzipSync('{"a":1}\n'),
        Metadata: head.Metadata,
      }),
    );

    const replayed = run('replay', prefix, dayReplay(stream, day, target, 'ndjson.zst'));
    expect(await replayed.exited).toBe(0);
    expect(replayed.out()).toContain('replayed: 1 of 1 objects, 1 written, 0 already there');
    expect(replayed.err()).not.toContain('-old');
    expect(await listObjectKeys(s3, services.bucket, `${target}stream=`)).toEqual(
      copiesOf(keys, prefix, target, '.ndjson.zst'),
    );
  });

  it('says so, and exits 1, when the range holds no object (a wrong S3_PREFIX, stream or day)', async () => {
    const nothing = run('replay', `${randomName('empty')}/`, dayReplay('web', '2026-12-01', 'elsewhere/'));
    expect(await nothing.exited).toBe(1);
    expect(nothing.err()).toContain('no objects of stream web from 2026-12-01 to 2026-12-01 under S3_PREFIX');
  });

  it('refuses Parquet objects for an NDJSON format, writing nothing', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day } = await land(prefix, 2, 10, ['ndjson.gz', 'parquet']);
    for (const format of ['ndjson.gz', 'ndjson.zst']) {
      const refused = run('replay', prefix, dayReplay(stream, day, target, format));
      expect(await refused.exited).toBe(1);
      expect(refused.err()).toContain('1 object(s) in range are Parquet, which replays only as Parquet');
    }
    expect(await listObjectKeys(s3, services.bucket, target)).toEqual([]);
  });

  it('copies an object already in the target format byte for byte', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, landed, lines, rewrite } = await landOneToRewrite(prefix);
    // The same lines at another gzip level: bytes the flusher's own encoding would not give again.
    await rewrite(gzipSync(`${lines.join('\n')}\n`, { level: 1 }));
    const proxy = await S3FaultProxy.start(services.endpoint);
    try {
      let reads = 0;
      void proxy.holdNext((method, url) => {
        if (method === 'GET' && decodeURIComponent(url.pathname) === `/${services.bucket}/${landed}`)
          reads += 1;
        return false;
      }, 60_000);
      const copied = runCli('replay', dayReplay(stream, day, target, 'ndjson.gz'), {
        ...s3Env(prefix),
        S3_ENDPOINT: proxy.endpoint,
      });
      expect(await copied.exited).toBe(0);
      // Checked in the read it is copied from: a read for the check before the copy's let a
      // change between the two through (a review's run copied 199 lines under 200 lines' metadata).
      expect(reads).toBe(1);
    } finally {
      await proxy.close();
    }
    expect(
      (await objectBytes(`${target}${landed.slice(prefix.length)}`)).equals(await objectBytes(landed)),
    ).toBe(true);
  });

  it('leaves out, naming each and exiting 1, objects Spool did not write; the copies get a manifest every later run and verify reads', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, keys } = await land(prefix, 2);
    const head = await s3.send(new HeadObjectCommand({ Bucket: services.bucket, Key: keys[0] }));
    const folder = `${prefix}stream=${stream}/dt=${day}/`;
    // One in an hour folder without Spool's metadata; one with it, outside the hour folders.
    const foreign = `${folder}hour=10/foreign.ndjson.gz`;
    const stray = `${folder}stray.ndjson.gz`;
    // And two in an hour folder whose names end in none of the formats (one with Spool's metadata).
    const notes = `${folder}hour=02/notes.csv`;
    const shouting = `${folder}hour=02/${stream}-2.NDJSON.GZ`;
    for (const [key, metadata] of [
      [foreign, {}],
      [stray, head.Metadata],
      [notes, {}],
      [shouting, head.Metadata],
    ] as const) {
      const put = { Bucket: services.bucket, Key: key, Body: gzipSync('{"a":1}\n'), Metadata: metadata };
      await s3.send(new PutObjectCommand(put));
    }
    const args = dayReplay(stream, day, target, 'ndjson.zst');
    for (const round of ['first', 'second']) {
      const replayed = run('replay', prefix, args);
      expect({ round, code: await replayed.exited }).toEqual({ round, code: 1 });
      expect(replayed.err()).toContain(
        `left out ${foreign}: not written by Spool (no spool-sha256 metadata)`,
      );
      expect(replayed.err()).toContain(`left out ${stray}: outside the hour= folders the flusher writes`);
      for (const key of [notes, shouting]) {
        expect(replayed.err()).toContain(
          `left out ${key}: not a Spool object: its name ends in none of the formats`,
        );
      }
      expect(replayed.err()).toContain('4 object(s) in range left out, not copied');
      // Counted apart, never as replayed.
      expect(replayed.out()).toContain(
        round === 'first'
          ? 'replayed: 2 of 2 objects, 2 written, 0 already there'
          : 'replayed: 2 of 2 objects, 0 written, 2 already there',
      );
      // Its copies' lines had no content hash: every later run and verify of the day stopped there.
      const verified = run('verify', target, ['--stream', stream, '--day', day]);
      expect({ round, code: await verified.exited, out: verified.out() }).toEqual({
        round,
        code: 0,
        out: expect.stringContaining('2 objects in the manifest'),
      });
    }
  });

  it.each([
    ['changed behind its metadata', (lines: string[]) => gzipSync(`${lines.slice(1).join('\n')}\n`)],
    ['cut short', (lines: string[]) => gzipSync(`${lines.join('\n')}\n`).subarray(0, 40)],
  ])('refuses an object %s, even copied as it is, and writes no copy of it', async (_, damage) => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, landed, lines, rewrite } = await landOneToRewrite(prefix);
    await rewrite(damage(lines));
    for (const format of ['ndjson.gz', 'ndjson.zst']) {
      const replayed = run('replay', prefix, dayReplay(stream, day, target, format));
      expect({ format, code: await replayed.exited }).toEqual({ format, code: 1 });
      expect(replayed.err()).toContain(`spool replay: ${landed}: `);
    }
    expect(await listObjectKeys(s3, services.bucket, target)).toEqual([]);
  });

  it.each([
    [
      'changed behind its metadata',
      (bytes: Buffer) => {
        // One byte of a column's data flipped: the same size, the same footer.
        const changed = Buffer.from(bytes);
        changed[100] = (changed[100] as number) ^ 0xff;
        return changed;
      },
    ],
    ['cut short', (bytes: Buffer) => bytes.subarray(0, bytes.length - 8)],
  ])(
    'refuses a Parquet object %s (its bytes against its manifest line), and writes no copy of it',
    async (_, damage) => {
      const prefix = `${randomName('replay')}/`;
      const target = `${randomName('replayed')}/`;
      const { stream, day, landed, rewrite } = await landOneToRewrite(prefix, 'parquet');
      await rewrite(damage(await objectBytes(landed)));
      const replayed = run('replay', prefix, dayReplay(stream, day, target, 'parquet'));
      expect(await replayed.exited).toBe(1);
      expect(replayed.err()).toContain(
        `spool replay: ${landed}: it is not what its day's manifest line says`,
      );
      expect(await listObjectKeys(s3, services.bucket, target)).toEqual([]);
    },
  );

  it('copies a Parquet object uploaded twice, whichever of its lines comes last: its bytes are one of theirs', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, landed } = await landOneToRewrite(prefix, 'parquet');
    const [part] = (await listObjectKeys(s3, services.bucket, `${prefix}_manifests/`)) as [string];
    const [trueLine] = (await objectBytes(part)).toString('utf8').split('\n') as [string];
    // The same rows uploaded again and encoded anew (a failover lost the first upload's release),
    // its line in a part listed after the first: S3 kept the first upload.
    await s3.send(
      new PutObjectCommand({
        Bucket: services.bucket,
        Key: part.replace(/[^/]+$/, 'zz-again.ndjson'),
        Body: `${JSON.stringify({ ...JSON.parse(trueLine), bytes: 1, objectSha256: 'e'.repeat(64) })}\n`,
      }),
    );
    const replayed = run('replay', prefix, dayReplay(stream, day, target, 'parquet'));
    expect(await replayed.exited).toBe(0);
    const copy = `${target}${landed.slice(prefix.length)}`;
    expect((await objectBytes(copy)).equals(await objectBytes(landed))).toBe(true);
  });

  it("leaves out a Parquet object its day's manifest has no line for (nothing to check a copy against), until a run finds one", async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, landed } = await landOneToRewrite(prefix, 'parquet');
    const manifest = await listObjectKeys(s3, services.bucket, `${prefix}_manifests/`);
    expect(manifest).toHaveLength(1);
    const [part] = manifest as [string];
    const written = await objectBytes(part);
    await s3.send(new DeleteObjectCommand({ Bucket: services.bucket, Key: part }));
    const args = dayReplay(stream, day, target, 'parquet');
    const first = run('replay', prefix, args);
    expect(await first.exited).toBe(1);
    expect(first.err()).toContain(`left out ${landed}: no SHA-256 of its bytes in its day's manifest`);
    expect(await listObjectKeys(s3, services.bucket, target)).toEqual([]);
    // The line written (as the flusher's sweep would): the next run copies it.
    await s3.send(new PutObjectCommand({ Bucket: services.bucket, Key: part, Body: written }));
    const second = run('replay', prefix, args);
    expect(await second.exited).toBe(0);
    const copy = `${target}${landed.slice(prefix.length)}`;
    expect((await objectBytes(copy)).equals(await objectBytes(landed))).toBe(true);
  });

  // The NDJSON ones on days without a manifest (objects landed before Spool wrote manifests), where
  // only the object itself tells: what its content and key say.
  it.each([
    [
      'ndjson.gz',
      'ndjson.zst',
      { 'spool-events': '999' },
      'its spool-events metadata says 999, it holds 200 lines',
      'no manifest',
    ],
    [
      'ndjson.gz',
      'ndjson.gz',
      { 'spool-events': '999' },
      'its spool-events metadata says 999, it holds 200 lines',
      'no manifest',
    ],
    [
      'ndjson.gz',
      'ndjson.zst',
      { 'spool-generation': '7' },
      "spool-shard metadata (7, 0) are not its key's (0, 0)",
      'no manifest',
    ],
    [
      'ndjson.gz',
      'ndjson.zst',
      { 'spool-events': '999' },
      "is not its day's manifest line's (200, 0, 0)",
      '',
    ],
    ['parquet', 'parquet', { 'spool-events': '999' }, "is not its day's manifest line's (200, 0, 0)", ''],
  ] as const)(
    'refuses, writing no copy, a %s object whose metadata was changed since it landed (to %s, %j): verify of the copies said ok',
    async (format, target, edit, says, manifest) => {
      const prefix = `${randomName('replay')}/`;
      const to = `${randomName('replayed')}/`;
      const { stream, day, landed } = await landOneToRewrite(prefix, format);
      if (manifest === 'no manifest') await deleteManifests(prefix);
      await editMetadata(landed, edit);
      const replayed = run('replay', prefix, dayReplay(stream, day, to, target));
      expect(await replayed.exited).toBe(1);
      expect(replayed.err()).toContain(`spool replay: ${landed}: `);
      expect(replayed.err()).toContain(says);
      expect(
        (await listObjectKeys(s3, services.bucket, to)).filter((key) => !key.includes('_manifests/')),
      ).toEqual([]);
    },
  );

  it("refuses on a rerun a source whose spool-events changed after its copy was written, rather than write the changed count into the target's manifest", async () => {
    const prefix = `${randomName('replay')}/`;
    const to = `${randomName('replayed')}/`;
    const { stream, day, landed } = await landOneToRewrite(prefix);
    // A day without a manifest (from before Spool wrote them): only the copy tells.
    await deleteManifests(prefix);
    const first = run('replay', prefix, dayReplay(stream, day, to, 'ndjson.zst'));
    expect(await first.exited).toBe(0);
    await editMetadata(landed, { 'spool-events': '999' });
    const parts = async () => listObjectKeys(s3, services.bucket, `${to}_manifests/`);
    const before = await parts();
    const rerun = run('replay', prefix, dayReplay(stream, day, to, 'ndjson.zst'));
    expect(await rerun.exited).toBe(1);
    expect(rerun.err()).toContain("its spool-events metadata (999) is not its copy's already there (200)");
    expect(await parts()).toEqual(before);
  });

  it('writes a copy again on a rerun when its source, on a day without a manifest, holds other events since (its spool-sha256 another)', async () => {
    const prefix = `${randomName('replay')}/`;
    const to = `${randomName('replayed')}/`;
    const { stream, day, landed, lines } = await landOneToRewrite(prefix);
    await deleteManifests(prefix);
    const first = run('replay', prefix, dayReplay(stream, day, to, 'ndjson.zst'));
    expect(await first.exited).toBe(0);
    // The source replaced by another Spool object of the same key: its first event gone, its
    // metadata saying so (a copy of the original kept was the old events under the new source).
    const content = `${lines.slice(1).join('\n')}\n`;
    const head = await s3.send(new HeadObjectCommand({ Bucket: services.bucket, Key: landed }));
    await s3.send(
      new PutObjectCommand({
        Bucket: services.bucket,
        Key: landed,
        Body: gzipSync(content),
        Metadata: {
          ...head.Metadata,
          'spool-sha256': createHash('sha256').update(content).digest('hex'),
          'spool-events': String(lines.length - 1),
          'spool-raw-bytes': String(Buffer.byteLength(content)),
        },
      }),
    );
    const rerun = run('replay', prefix, dayReplay(stream, day, to, 'ndjson.zst'));
    expect(await rerun.exited).toBe(0);
    const copy = `${to}${landed.slice(prefix.length).replace(/\.ndjson\.gz$/, '.ndjson.zst')}`;
    expect((await readSpoolObject(s3, services.bucket, copy)).lines).toEqual(lines.slice(1));
  });

  it('fails, writing no copy, when an object copied as it is changes after replay read its metadata', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, landed, lines, rewrite } = await landOneToRewrite(prefix);
    const proxy = await S3FaultProxy.start(services.endpoint);
    try {
      const readsSource = (method: string, url: URL) =>
        method === 'GET' && decodeURIComponent(url.pathname) === `/${services.bucket}/${landed}`;
      const read = proxy.holdNext(readsSource, 60_000);
      const replayed = runCli('replay', dayReplay(stream, day, target, 'ndjson.gz'), {
        ...s3Env(prefix),
        S3_ENDPOINT: proxy.endpoint,
      });
      const held = await read;
      if (!held) throw new Error('the copy never read its source');
      // Changed under its metadata once replay has it: a check in a read of its own, before the
      // copy's, passed on the old content and the copy took the new (a review's run).
      await rewrite(gzipSync(`${lines.slice(1).join('\n')}\n`));
      held.release();
      expect(await replayed.exited).toBe(1);
      expect(replayed.err()).toContain(`spool replay: ${landed}: its content's SHA-256 is not`);
    } finally {
      await proxy.close();
    }
    expect(await listObjectKeys(s3, services.bucket, target)).toEqual([]);
  });

  it('asks for S3_SERVER_SIDE_ENCRYPTION on its copies and their manifest, as a bucket policy requiring SSE-KMS wants', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, keys } = await land(prefix, 2);
    const proxy = await S3FaultProxy.start(services.endpoint);
    proxy.requireEncryption = { sse: 'aws:kms', kmsKeyId: 'alias/spool-test' };
    try {
      const replayed = runCli('replay', dayReplay(stream, day, target, 'ndjson.zst'), {
        ...s3Env(prefix),
        S3_ENDPOINT: proxy.endpoint,
        S3_SERVER_SIDE_ENCRYPTION: 'aws:kms',
        S3_SSE_KMS_KEY_ID: 'alias/spool-test',
      });
      expect(await replayed.exited).toBe(0);
      // Two copies and the day's manifest, none refused.
      expect(proxy.encryptionChecks).toMatchObject({ passed: 3, refused: 0 });
    } finally {
      await proxy.close();
    }
    expect(await listObjectKeys(s3, services.bucket, target)).toHaveLength(keys.length + 1);
  });

  it('picks up where a killed run stopped, writing each copy once', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    // Enough copies, each big enough, that the kill lands before the last.
    const { stream, day } = await land(prefix, 10, 5_000);
    const args = dayReplay(stream, day, target);

    // kill -9 while its second copy is being written.
    await atSecondCopy(prefix, target, args, async (killed) => {
      killed.child.kill('SIGKILL');
      await killed.exited;
    });
    const afterKill = (await listObjectKeys(s3, services.bucket, `${target}stream=`)).length;
    expect(afterKill).toBe(1);

    const resumed = run('replay', prefix, args);
    expect(await resumed.exited).toBe(0);
    expect(resumed.out()).toContain(
      `replayed: 10 of 10 objects, ${10 - afterKill} written, ${afterKill} already there`,
    );
    expect(await listObjectKeys(s3, services.bucket, `${target}stream=`)).toHaveLength(10);
    // The copy the killed run wrote has its bytes' digest too, for verify --deep to check.
    const manifest = await readManifest(s3, services.bucket, target, stream, day);
    expect([...manifest.values()].filter((line) => !/^[0-9a-f]{64}$/.test(line.objectSha256 ?? ''))).toEqual(
      [],
    );
    const verified = run('verify', target, ['--stream', stream, '--day', day, '--deep']);
    expect(await verified.exited).toBe(0);
  });

  it('finishes, manifest and all, when the reader of its progress (stderr) goes away', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day } = await land(prefix, 3, 100);
    const replay = run('replay', prefix, dayReplay(stream, day, target));
    // `spool replay … 2>&1 | head -1`: every progress line after this meets a closed pipe.
    replay.child.stderr.destroy();
    expect(await replay.exited).toBe(0);
    expect(replay.out()).toContain('replayed: 3 of 3 objects, 3 written');
    expect((await readManifest(s3, services.bucket, target, stream, day)).size).toBe(3);
  });

  it('refuses bad options, and a target prefix that is the source', async () => {
    const prefix = `${randomName('replay')}/`;
    const refusals: Promise<{ args: string[]; code: number | null }>[] = [];
    for (const args of [
      ['--stream', 'web', '--from', '2026-12-02', '--to', '2026-12-01', '--to-prefix', 'x/'],
      ['--stream', 'web', '--from', '2026-12-01', '--to', '2026-12-01'],
      [
        '--stream',
        'web',
        '--from',
        '2026-12-01',
        '--to',
        '2026-12-01',
        '--to-prefix',
        'x/',
        '--format',
        'csv',
      ],
      ['--from', '2026-12-01', '--to', '2026-12-01', '--to-prefix', 'x/'],
      // A folder, as S3_PREFIX is.
      ['--stream', 'web', '--from', '2026-12-01', '--to', '2026-12-01', '--to-prefix', 'copies'],
      // Segments a file-backed store resolves: "./" was the source's own folder there.
      ['--stream', 'web', '--from', '2026-12-01', '--to', '2026-12-01', '--to-prefix', './'],
      ['--stream', 'web', '--from', '2026-12-01', '--to', '2026-12-01', '--to-prefix', 'a/../'],
      ['--stream', 'web', '--from', '2026-12-01', '--to', '2026-12-01', '--to-prefix', '/copies/'],
      // Days of no calendar: 2026-02-30 was read as 2026-03-02, 2026-12-99 as no day at all.
      ['--stream', 'web', '--from', '2026-02-30', '--to', '2026-03-02', '--to-prefix', 'x/'],
      ['--stream', 'web', '--from', '2026-12-01', '--to', '2026-12-99', '--to-prefix', 'x/'],
      // An option it does not know, or one without its value: the usage, not a stack trace.
      ['--stream', 'web', '--from', '2026-12-01', '--to', '2026-12-01', '--to-prefix', 'x/', '--follow'],
      ['--stream', 'web', '--from', '2026-12-01', '--to', '2026-12-01', '--to-prefix'],
      // An option given twice: only the last was used (`--stream a --stream b` replayed b).
      [
        '--stream',
        'web',
        '--stream',
        'ios',
        '--from',
        '2026-12-01',
        '--to',
        '2026-12-01',
        '--to-prefix',
        'x/',
      ],
    ]) {
      refusals.push(run('replay', prefix, args).exited.then((code) => ({ args, code })));
    }
    // Run at once: one after another, 14 starts of the command passed the test's minute on a
    // loaded runner (a clean clone's run beside other work).
    for (const refused of await Promise.all(refusals))
      expect(refused).toEqual({ args: refused.args, code: 64 });
    const same = run('replay', prefix, [
      '--stream',
      'web',
      '--from',
      '2026-12-01',
      '--to',
      '2026-12-01',
      '--to-prefix',
      prefix,
    ]);
    expect(await same.exited).toBe(64);
    expect(same.err()).toContain('is S3_PREFIX or inside its stream partitions or side files');
  });

  it('refuses a target where a flusher lands the stream (a replay back into the live prefix), writing nothing there', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day } = await land(prefix, 2, 10);
    expect(await run('replay', prefix, dayReplay(stream, day, target, 'parquet')).exited).toBe(0);
    const live = await listObjectKeys(s3, services.bucket, prefix);
    // From the copies back to where the flusher wrote the originals: each event would be there twice.
    const back = run('replay', target, dayReplay(stream, day, prefix, 'parquet'));
    expect(await back.exited).toBe(1);
    expect(back.err()).toContain('landed there by a flusher');
    expect(back.err()).toContain('would count its events twice');
    expect(await listObjectKeys(s3, services.bucket, prefix)).toEqual(live);
  });

  it('takes a target where a flusher landed other generations of the stream (S3_PREFIX changed in the day)', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, keys } = await land(prefix, 2, 10);
    // A flusher's manifest part in the target, for a generation of the stream none of the copies is.
    const other = `${target}${(keys[0] as string).slice(prefix.length).replace(/-0\.ndjson\.gz$/, '-99.ndjson.gz')}`;
    await s3.send(
      new PutObjectCommand({
        Bucket: services.bucket,
        Key: `${target}_manifests/stream=${stream}/dt=${day}/s0-1-1.ndjson`,
        Body: `${JSON.stringify({ key: other, generation: 99, shard: 0, format: 'ndjson.gz', events: 1, bytes: 1, sha256: 'x' })}\n`,
      }),
    );
    const replayed = run('replay', prefix, dayReplay(stream, day, target));
    expect(await replayed.exited).toBe(0);
    expect(replayed.out()).toContain('replayed: 2 of 2 objects, 2 written');
  });

  it("writes a long day's manifest lines as its copies come, a part per so many, not only at the day's end", async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day } = await land(prefix, 3, 10);
    const done = await replay({ ...dayReplayOptions(stream, day, prefix, target), manifestLinesPerPart: 2 });
    expect(done.written).toBe(3);
    // Two copies' lines as soon as they were written (what a kill -9 after them keeps), then the last.
    const parts = await listObjectKeys(s3, services.bucket, `${target}_manifests/`);
    expect(parts).toHaveLength(2);
    expect((await readManifest(s3, services.bucket, target, stream, day)).size).toBe(3);
  });

  it('keeps the manifest lines of two runs into one target at once: each writes a part of its own', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day } = await land(prefix, 2, 10);
    const proxy = await S3FaultProxy.start(services.endpoint);
    try {
      // The zstd run has read the day's manifest and is writing its lines: held there while a
      // gzip run into the same target writes its copies and its lines.
      const writesManifest = (method: string, url: URL) =>
        method === 'PUT' && url.pathname.startsWith(`/${services.bucket}/${target}_manifests/`);
      const manifestWrite = proxy.holdNext(writesManifest, 60_000);
      const zstd = runCli('replay', dayReplay(stream, day, target, 'ndjson.zst'), {
        ...s3Env(prefix),
        S3_ENDPOINT: proxy.endpoint,
      });
      const held = await manifestWrite;
      if (!held) throw new Error('the zstd run never wrote its manifest');
      expect(await run('replay', prefix, dayReplay(stream, day, target, 'ndjson.gz')).exited).toBe(0);
      held.release();
      expect(await zstd.exited).toBe(0);
    } finally {
      await proxy.close();
    }
    // Both runs' copies have their lines: one part overwriting the other left the gzip run's out.
    const verified = run('verify', target, ['--stream', stream, '--day', day]);
    expect(await verified.exited).toBe(0);
    expect(verified.out()).toContain('4 objects in the manifest');
  });

  it('refuses a target inside the source partitions, where each run copied the copies of the last', async () => {
    const prefix = `${randomName('replay')}/`;
    const { stream, day } = await land(prefix, 1, 10);
    for (const target of [`${prefix}stream=${stream}/dt=${day}/copy/`, `${prefix}_copies/`]) {
      const refused = run('replay', prefix, dayReplay(stream, day, target));
      expect(await refused.exited).toBe(64);
      expect(refused.err()).toContain('inside its stream partitions or side files');
    }
    expect(await listObjectKeys(s3, services.bucket, prefix)).toHaveLength(2); // the object, its manifest
  });

  it('takes a range of centuries in one listing, and replays what it holds', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, keys } = await land(prefix, 2, 10);
    // A request a day was 2.9 million listings here: the run never ended, Ctrl-C included.
    const args = ['--stream', stream, '--from', '1970-01-01', '--to', '9999-12-31', '--to-prefix', target];
    const replayed = run('replay', prefix, args);
    expect(await replayed.exited).toBe(0);
    expect(replayed.out()).toContain('replayed: 2 of 2 objects, 2 written');
    expect(await listObjectKeys(s3, services.bucket, `${target}stream=`)).toEqual(
      copiesOf(keys, prefix, target, '.ndjson.gz'),
    );
  });

  it('replays objects under a prefix S3 allows but HTTP headers do not carry (non-ASCII), recording the source percent-encoded', async () => {
    const prefix = `日志-${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, keys } = await land(prefix, 1, 10);
    const replayed = run('replay', prefix, dayReplay(stream, day, target));
    expect(await replayed.exited).toBe(0);
    const [source] = keys as [string];
    const copy = `${target}${source.slice(prefix.length)}`;
    const head = await s3.send(new HeadObjectCommand({ Bucket: services.bucket, Key: copy }));
    expect(decodeURIComponent(head.Metadata?.['spool-replayed-from'] ?? '')).toBe(source);
    await expectRerunWritesNothing(prefix, dayReplay(stream, day, target), [copy]);
  });

  it('names the object whose copy failed when the manifest of the copies before it fails too (S3 gone)', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day, keys } = await land(prefix, 3, 200);
    await atSecondCopy(prefix, target, dayReplay(stream, day, target), async (failed, held, proxy) => {
      // The second copy lands; then every request fails: the third's download, then the manifest.
      proxy.set('error500');
      held.release();
      expect(await failed.exited).toBe(1);
      // Before: only the manifest's error ("spool replay: injected"), no object named.
      expect(failed.err()).toMatch(
        new RegExp(
          `^spool replay: ${keys[2]}: .*; and this day's manifest of the copies written before it: `,
          'm',
        ),
      );
    });
  });

  it('stopped by Ctrl-C: finishes the copy in hand, writes its day manifest, and exits 130', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day } = await land(prefix, 4, 2_000);
    const args = dayReplay(stream, day, target);
    await atSecondCopy(prefix, target, args, async (stopped, held) => {
      await stopAndWaitForWord(stopped);
      held.release();
      // An incomplete copy must not pass for a whole one: `make replay && <delete the source>`.
      expect(await stopped.exited).toBe(130);
      expect(stopped.out()).toMatch(/^stopped: 2 of 4 objects, 2 written/m);
    });
    // What it wrote has its manifest: the target verifies as it stands.
    const verified = run('verify', target, ['--stream', stream, '--day', day]);
    expect(await verified.exited).toBe(0);
    expect(verified.out()).toContain('2 objects in the manifest');
  });
  it.each(['SIGINT', 'SIGTERM'] as const)(
    'stopped by %s, then by Ctrl-C at once, its copy in hand left for the next run',
    async (first) => {
      const prefix = `${randomName('replay')}/`;
      const target = `${randomName('replayed')}/`;
      const { stream, day } = await land(prefix, 4, 2_000);
      await atSecondCopy(prefix, target, dayReplay(stream, day, target), async (stopped) => {
        await stopAndWaitForWord(stopped, first);
        // The second copy's write still held: only the signal can end the run now.
        stopped.child.kill('SIGINT');
        expect(await stopped.exited).toBeNull();
        expect(stopped.child.signalCode).toBe('SIGINT');
      });
      const resumed = run('replay', prefix, dayReplay(stream, day, target));
      expect(await resumed.exited).toBe(0);
      expect(resumed.out()).toContain('replayed: 4 of 4 objects, 3 written, 1 already there');
    },
  );
  it.each(['ndjson.zst', 'parquet'])(
    're-encoding as %s, fails the run with a message when a download is cut short, the copies before it in the manifest',
    async (format) => {
      const prefix = `${randomName('replay')}/`;
      const target = `${randomName('replayed')}/`;
      const { stream, day, keys } = await land(prefix, 3, 2_000);
      const proxy = await S3FaultProxy.start(services.endpoint);
      try {
        // The second object's download only: half of it, then the connection closed.
        proxy.cutMatches = (method, url) =>
          method === 'GET' && decodeURIComponent(url.pathname) === `/${services.bucket}/${keys[1]}`;
        proxy.set('cutDownloads');
        const replay = runCli('replay', dayReplay(stream, day, target, format), {
          ...s3Env(prefix),
          S3_ENDPOINT: proxy.endpoint,
        });
        // Before: exit 13 (Node's "unsettled top-level await"), nothing said, no manifest.
        expect(await replay.exited).toBe(1);
        expect(replay.err()).toMatch(/^spool replay: .*aborted/m);
      } finally {
        await proxy.close();
      }
      const copies = await listObjectKeys(s3, services.bucket, `${target}stream=`);
      expect(copies.length).toBeGreaterThan(0);
      const manifest = await readManifest(s3, services.bucket, target, stream, day);
      expect([...manifest.keys()].sort()).toEqual(copies);
    },
  );

  it('stopped by Ctrl-C while listing the source: exits 130, never saying the range holds nothing, or that its objects are gone', async () => {
    const prefix = `${randomName('replay')}/`;
    const target = `${randomName('replayed')}/`;
    const { stream, day } = await land(prefix, 2, 10);
    // The manifests' listing (read first), then the objects': stopped during the second, the
    // objects its manifest lists and it had not listed yet were said "not in S3".
    for (const listed of ['_manifests/', 'stream=']) {
      const proxy = await S3FaultProxy.start(services.endpoint);
      try {
        const listing = proxy.holdNext(
          (method, url) =>
            method === 'GET' &&
            url.searchParams.has('list-type') &&
            (url.searchParams.get('prefix') ?? '').startsWith(`${prefix}${listed}`),
          30_000,
        );
        const replay = runCli('replay', dayReplay(stream, day, target), {
          ...s3Env(prefix),
          S3_ENDPOINT: proxy.endpoint,
        });
        const held = await listing;
        if (!held) throw new Error(`the listing of ${listed} was never asked for`);
        // The signal seen before the listing answers: the run stops with what it has (nothing).
        await stopAndWaitForWord(replay);
        held.release();
        expect({ listed, code: await replay.exited }).toEqual({ listed, code: 130 });
        expect(replay.err()).not.toContain('no objects');
        expect(replay.err()).not.toContain('left out');
      } finally {
        await proxy.close();
      }
    }
  });
});
