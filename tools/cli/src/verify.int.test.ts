import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from '@jest/globals';
import { manifestFolder } from '@spool/flusher/dist/manifests.js';
import { defineSpoolCommands } from '@spool/shared';
import { createTestRedis, createTestS3, listObjectKeys, randomName, testServices } from '@spool/testkit';
import { S3FaultProxy } from '@spool/testkit/local-stack';
import { landGenerations, runCli, s3Env } from './test-support.js';

const { s3: services } = testServices();
const redis = createTestRedis();
defineSpoolCommands(redis);
const s3 = createTestS3();

afterAll(async () => {
  await redis.quit();
  s3.destroy();
});

/** `spool verify`, as run: the built command, S3 under `prefix`; its report and exit code. */
async function verify(prefix: string, args: string[]): Promise<{ code: number | null; out: string }> {
  const cli = runCli('verify', args, s3Env(prefix));
  return { code: await cli.exited, out: cli.out() };
}

const landTwoGenerations = (prefix: string) => landGenerations(redis, s3, prefix, 2);

describe('spool verify', () => {
  it('passes a whole day, reading the objects too with --deep', async () => {
    const prefix = `${randomName('verify')}/`;
    const { stream, day } = await landTwoGenerations(prefix);
    for (const extra of [[], ['--deep']]) {
      const result = await verify(prefix, ['--stream', stream, '--day', day, ...extra]);
      expect(result.out).toContain('2 objects in the manifest');
      expect(result.out).toContain('ok: none missing, none changed, none extra');
      expect(result.code).toBe(0);
    }
  });

  it('names an object missing, one changed and one extra, and exits 1', async () => {
    const prefix = `${randomName('verify')}/`;
    const { stream, day, keys } = await landTwoGenerations(prefix);
    const [gone, changed] = keys as [string, string];
    await s3.send(new DeleteObjectCommand({ Bucket: services.bucket, Key: gone }));
    await s3.send(
      new PutObjectCommand({ Bucket: services.bucket, Key: changed, Body: gzipSync('{"other":1}\n') }),
    );
    const extra = `${prefix}stream=${stream}/dt=${day}/hour=00/${stream}-stray.ndjson.gz`;
    await s3.send(new PutObjectCommand({ Bucket: services.bucket, Key: extra, Body: gzipSync('{}\n') }));

    const result = await verify(prefix, ['--stream', stream, '--day', day]);
    expect(result.code).toBe(1);
    expect(result.out).toContain(`missing  ${gone}`);
    expect(result.out).toMatch(new RegExp(`changed  ${changed}: \\d+ bytes, the manifest says \\d+`));
    expect(result.out).toContain(`extra    ${extra}`);
    expect(result.out).toContain('3 problem(s)');
  });

  it("names a line for another stream's object as not this day's, and a damaged line by its part and number", async () => {
    const prefix = `${randomName('verify')}/`;
    const { stream, day } = await landTwoGenerations(prefix);
    const other = await landTwoGenerations(prefix);
    const partOf = async (name: string) =>
      (await listObjectKeys(s3, services.bucket, manifestFolder(prefix, name, day)))[0] as string;
    const read = async (key: string) =>
      (await (
        await s3.send(new GetObjectCommand({ Bucket: services.bucket, Key: key }))
      ).Body?.transformToString()) ?? '';
    const [part, otherPart] = [await partOf(stream), await partOf(other.stream)];
    const [original, otherLines] = [await read(part), await read(otherPart)];
    const put = (body: string) =>
      s3.send(new PutObjectCommand({ Bucket: services.bucket, Key: part, Body: body }));

    // Another stream's line, its object whole: it would add its events to this day's.
    const foreign = JSON.parse(otherLines.split('\n')[0] as string) as { key: string };
    await put(`${original}${JSON.stringify(foreign)}\n`);
    const result = await verify(prefix, ['--stream', stream, '--day', day]);
    expect(result.out).toContain(
      `changed  ${foreign.key}: this day's manifest lists it, but it is not under ${prefix}stream=${stream}/dt=${day}/`,
    );
    expect(result.out).toContain('1 problem(s)');
    expect(result.code).toBe(1);

    // A line of this day whose format is not its key's: --deep read an unknown one as gzip.
    const ownLine = original.split('\n')[0] as string;
    const own = JSON.parse(ownLine) as { key: string };
    await put(original.replace(ownLine, JSON.stringify({ ...own, format: '../../etc' })));
    const wrongFormat = await verify(prefix, ['--stream', stream, '--day', day]);
    expect(wrongFormat.out).toContain(
      `changed  ${own.key}: the manifest says its format is "../../etc", its key's is ndjson.gz`,
    );
    expect(wrongFormat.code).toBe(1);

    for (const [line, why] of [
      ['{"broken', 'not a manifest line (not JSON)'],
      ['{}', 'not a manifest line (no "key")'],
      [JSON.stringify({ ...foreign, key: '' }), 'not a manifest line (no "key")'],
      [JSON.stringify({ ...foreign, events: '2' }), 'not a manifest line ("events" is not a count)'],
      [JSON.stringify({ ...foreign, bytes: -1 }), 'not a manifest line ("bytes" is not a count)'],
      [JSON.stringify({ ...foreign, sha256: undefined }), 'not a manifest line (no "sha256")'],
    ]) {
      await put(`${original}${line}\n`);
      const damaged = runCli('verify', ['--stream', stream, '--day', day], s3Env(prefix));
      expect(await damaged.exited).toBe(1);
      const number = original.split('\n').filter(Boolean).length + 1;
      expect(damaged.err()).toBe(`spool verify: s3://${services.bucket}/${part}, line ${number}: ${why}\n`);
    }
  });

  it('reads every line of an object: one that lies, in a part named before the true one, is found', async () => {
    const prefix = `${randomName('verify')}/`;
    const { stream, day } = await landTwoGenerations(prefix);
    const folder = manifestFolder(prefix, stream, day);
    const [part] = (await listObjectKeys(s3, services.bucket, folder)) as [string];
    const body = async (key: string) =>
      (await (
        await s3.send(new GetObjectCommand({ Bucket: services.bucket, Key: key }))
      ).Body?.transformToString()) ?? '';
    const trueLine = (await body(part)).split('\n')[0] as string;
    const line = JSON.parse(trueLine) as { key: string; events: number };
    const putPart = (name: string, text: string) =>
      s3.send(new PutObjectCommand({ Bucket: services.bucket, Key: `${folder}${name}`, Body: text }));

    // The same line again (a release made again after a failover): one object, whole.
    await putPart('s0-0-0.ndjson', `${trueLine}\n`);
    const again = await verify(prefix, ['--stream', stream, '--day', day, '--deep']);
    expect(again.out).toContain('ok: none missing, none changed, none extra');
    expect(again.code).toBe(0);

    // A line that names the same size and other bytes (a generation uploaded again encodes its
    // lines anew): --deep takes the object for one of them (it took the last line alone).
    await putPart('s0-0-1.ndjson', `${JSON.stringify({ ...line, objectSha256: 'f'.repeat(64) })}\n`);
    const reencoded = await verify(prefix, ['--stream', stream, '--day', day, '--deep']);
    expect(reencoded.out).toContain('ok: none missing, none changed, none extra');
    expect(reencoded.code).toBe(0);

    // A line that lies about its events, in a part named before the true one's (the last line of
    // a key was all that was checked: this passed, --deep too, a review's run).
    await putPart('a-lie.ndjson', `${JSON.stringify({ ...line, events: line.events + 1000 })}\n`);
    for (const extra of [[], ['--deep']]) {
      const lie = await verify(prefix, ['--stream', stream, '--day', day, ...extra]);
      expect(lie.out).toContain(
        `changed  ${line.key}: the manifest holds 4 lines for it that disagree: events ${line.events + 1000} and ${line.events}`,
      );
      expect(lie.code).toBe(1);
    }
    // In a replay's part too: a reader taking any one line of a key must find it true.
    await s3.send(new DeleteObjectCommand({ Bucket: services.bucket, Key: `${folder}a-lie.ndjson` }));
    await putPart('replay.ndjson', `${JSON.stringify({ ...line, events: line.events + 1 })}\n`);
    const replayed = await verify(prefix, ['--stream', stream, '--day', day]);
    expect(replayed.out).toContain('that disagree: events');
    expect(replayed.code).toBe(1);
  });

  it("checks an object against the one of its lines that names its size, wherever that line is; lines that disagree on its content's SHA-256 are found", async () => {
    const prefix = `${randomName('verify')}/`;
    const { stream, day } = await landTwoGenerations(prefix);
    const folder = manifestFolder(prefix, stream, day);
    const [part] = (await listObjectKeys(s3, services.bucket, folder)) as [string];
    const text =
      (await (
        await s3.send(new GetObjectCommand({ Bucket: services.bucket, Key: part }))
      ).Body?.transformToString()) ?? '';
    const line = JSON.parse(text.split('\n')[0] as string) as { key: string; bytes: number };
    const later = `${folder}zz-later.ndjson`;
    const putLater = (entry: object) =>
      s3.send(
        new PutObjectCommand({ Bucket: services.bucket, Key: later, Body: `${JSON.stringify(entry)}\n` }),
      );

    // The same content uploaded again, encoded to another size, its line read last; S3 holds the
    // first upload's object: it is the one its size names.
    await putLater({ ...line, bytes: line.bytes + 7, objectSha256: 'e'.repeat(64) });
    for (const extra of [[], ['--deep']]) {
      const result = await verify(prefix, ['--stream', stream, '--day', day, ...extra]);
      expect(result.out).toContain('ok: none missing, none changed, none extra');
      expect(result.code).toBe(0);
    }

    // A line that names other content (its SHA-256) for the same key: not one object's lines.
    await putLater({ ...line, sha256: 'e'.repeat(64) });
    const disagreeing = await verify(prefix, ['--stream', stream, '--day', day]);
    expect(disagreeing.out).toContain(
      `changed  ${line.key}: the manifest holds 2 lines for it that disagree: sha256`,
    );
    expect(disagreeing.code).toBe(1);
  });

  it('with --deep, finds content changed behind the same size and metadata', async () => {
    const prefix = `${randomName('verify')}/`;
    const stream = randomName('web');
    const day = '2026-12-01';
    const key = `${prefix}stream=${stream}/dt=${day}/hour=10/${stream}-20261201T100000000Z-0.ndjson.gz`;
    const original = '{"n":1}\n{"n":2}\n';
    // Stored (level 0) gzip: its size follows the content's length alone.
    const body = (text: string) => gzipSync(text, { level: 0 });
    const sha256 = createHash('sha256').update(original).digest('hex');
    const metadata = { 'spool-sha256': sha256, 'spool-events': '2' };
    const line = {
      key,
      generation: 0,
      shard: 0,
      format: 'ndjson.gz',
      events: 2,
      bytes: body(original).length,
      rawBytes: original.length,
      sha256,
      firstReceivedAt: '',
      lastReceivedAt: '',
    };
    await s3.send(
      new PutObjectCommand({
        Bucket: services.bucket,
        Key: `${manifestFolder(prefix, stream, day)}s0-1.ndjson`,
        Body: `${JSON.stringify(line)}\n`,
      }),
    );
    // Tampered: one character changed, same length, the original's metadata kept.
    const tampered = original.replace('2', '3');
    await s3.send(
      new PutObjectCommand({ Bucket: services.bucket, Key: key, Body: body(tampered), Metadata: metadata }),
    );

    expect((await verify(prefix, ['--stream', stream, '--day', day])).code).toBe(0);
    const deep = await verify(prefix, ['--stream', stream, '--day', day, '--deep']);
    expect(deep.code).toBe(1);
    expect(deep.out).toContain(`changed  ${key}: its content’s SHA-256 is not the manifest’s`);

    // Two lines made one, at the same length: --deep counts the lines before it hashes them.
    const merged = '{"n":1,"x":234}\n';
    expect(merged.length).toBe(original.length);
    await s3.send(
      new PutObjectCommand({ Bucket: services.bucket, Key: key, Body: body(merged), Metadata: metadata }),
    );
    const cut = await verify(prefix, ['--stream', stream, '--day', day, '--deep']);
    expect(cut.out).toContain(`changed  ${key}: it holds 1 lines, the manifest says 2`);
    expect(cut.code).toBe(1);

    // The original bytes, under metadata whose spool-sha256 is another content's: found without --deep.
    await s3.send(
      new PutObjectCommand({
        Bucket: services.bucket,
        Key: key,
        Body: body(original),
        Metadata: { ...metadata, 'spool-sha256': 'f'.repeat(64) },
      }),
    );
    const relabelled = await verify(prefix, ['--stream', stream, '--day', day]);
    expect(relabelled.out).toContain(`changed  ${key}: its spool-sha256 is not the manifest’s`);
    expect(relabelled.code).toBe(1);
  });

  it('checks Parquet objects by their bytes: --deep finds one changed behind its metadata', async () => {
    const prefix = `${randomName('verify')}/`;
    const { stream, day, keys } = await landGenerations(redis, s3, prefix, 2, 50, 'parquet');
    expect((await verify(prefix, ['--stream', stream, '--day', day, '--deep'])).code).toBe(0);
    // One byte of the first object changed (its size kept), under its own metadata: only
    // reading the bytes can tell.
    const [first, second] = keys as [string, string];
    const head = await s3.send(new GetObjectCommand({ Bucket: services.bucket, Key: first }));
    const tampered = Buffer.from((await head.Body?.transformToByteArray()) ?? []);
    const middle = Math.floor(tampered.length / 2);
    tampered[middle] = (tampered[middle] ?? 0) ^ 0xff;
    await s3.send(
      new PutObjectCommand({ Bucket: services.bucket, Key: first, Body: tampered, Metadata: head.Metadata }),
    );

    expect((await verify(prefix, ['--stream', stream, '--day', day])).code).toBe(0);
    const deep = await verify(prefix, ['--stream', stream, '--day', day, '--deep']);
    expect(deep.code).toBe(1);
    expect(deep.out).toContain(`changed  ${first}: its bytes’ SHA-256 is not the manifest’s`);
    expect(deep.out).not.toContain(second);
  });

  it('with --deep, reports a Parquet object with a damaged footer as changed, with its hash or without, and goes on to the others', async () => {
    const prefix = `${randomName('verify')}/`;
    const { stream, day, keys } = await landGenerations(redis, s3, prefix, 2, 50, 'parquet');
    const [first, second] = keys as [string, string];
    const head = await s3.send(new GetObjectCommand({ Bucket: services.bucket, Key: first }));
    const damaged = Buffer.from((await head.Body?.transformToByteArray()) ?? []);
    // The footer's length (4 bytes before the closing "PAR1"), its high byte: DuckDB fails with
    // an error of another kind than it gives for bad values (an IO or Invalid Error).
    const at = damaged.length - 5;
    damaged[at] = (damaged[at] ?? 0) ^ 0x7f;
    await s3.send(
      new PutObjectCommand({ Bucket: services.bucket, Key: first, Body: damaged, Metadata: head.Metadata }),
    );
    const hashed = await verify(prefix, ['--stream', stream, '--day', day, '--deep']);
    expect(hashed.out).toContain(`changed  ${first}: its bytes’ SHA-256 is not the manifest’s`);
    expect(hashed.code).toBe(1);

    // A manifest line without objectSha256 (written before it was recorded): DuckDB's reading is the check.
    const folder = manifestFolder(prefix, stream, day);
    const [part] = await listObjectKeys(s3, services.bucket, folder);
    const manifest = await s3.send(new GetObjectCommand({ Bucket: services.bucket, Key: part }));
    const lines = ((await manifest.Body?.transformToString()) ?? '').split('\n').filter(Boolean);
    const unhashed = lines.map((text) => {
      const { objectSha256: _, ...line } = JSON.parse(text);
      return `${JSON.stringify(line)}\n`;
    });
    await s3.send(new PutObjectCommand({ Bucket: services.bucket, Key: part, Body: unhashed.join('') }));
    const deep = await verify(prefix, ['--stream', stream, '--day', day, '--deep']);
    expect(deep.out).toMatch(
      new RegExp(`changed  ${first}: its content cannot be read \\(DuckDB: [A-Za-z ]*Error\\)`),
    );
    expect(deep.out).not.toContain(second);
    expect(deep.out).toContain('1 problem');
    expect(deep.code).toBe(1);
  });

  it('with --deep, stops naming the object when DuckDB itself fails (its library will not load), never calling whole objects changed', async () => {
    const prefix = `${randomName('verify')}/`;
    const { stream, day, keys } = await landGenerations(redis, s3, prefix, 2, 50, 'parquet');
    // A loader hook that refuses DuckDB's package, as a platform without its binding would.
    const dir = mkdtempSync(join(tmpdir(), 'spool-no-duckdb-'));
    try {
      writeFileSync(
        join(dir, 'hooks.mjs'),
        `export async function resolve(specifier, context, next) {
          if (specifier === '@duckdb/node-api') throw new Error('DuckDB cannot load here');
          return next(specifier, context);
        }`,
      );
      writeFileSync(
        join(dir, 'register.mjs'),
        `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});`,
      );
      const cli = runCli('verify', ['--stream', stream, '--day', day, '--deep'], {
        ...s3Env(prefix),
        NODE_OPTIONS: `--import=${pathToFileURL(join(dir, 'register.mjs')).href}`,
      });
      expect(await cli.exited).toBe(1);
      expect(cli.out()).not.toContain('changed');
      expect(cli.err()).toContain(`${keys[0]}: DuckDB cannot load here`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts a Parquet object’s rows against the manifest with --deep, hash or no hash', async () => {
    // Another object of fewer events put in the place of the first, under the first's metadata,
    // its manifest line fitted to the new size and without objectSha256 (as lines written before
    // it was recorded): only the rows can tell.
    const prefix = `${randomName('verify')}/`;
    const { stream, day, keys } = await landGenerations(redis, s3, prefix, 1, 50, 'parquet');
    const other = await landGenerations(redis, s3, `${randomName('verify')}/`, 1, 30, 'parquet');
    const [key] = keys as [string];
    const head = await s3.send(new GetObjectCommand({ Bucket: services.bucket, Key: key }));
    const replacement = await s3.send(new GetObjectCommand({ Bucket: services.bucket, Key: other.keys[0] }));
    const body = Buffer.from((await replacement.Body?.transformToByteArray()) ?? []);
    await s3.send(
      new PutObjectCommand({ Bucket: services.bucket, Key: key, Body: body, Metadata: head.Metadata }),
    );
    const folder = manifestFolder(prefix, stream, day);
    const [part] = await listObjectKeys(s3, services.bucket, folder);
    const manifest = await s3.send(new GetObjectCommand({ Bucket: services.bucket, Key: part }));
    const { objectSha256: _, ...line } = JSON.parse((await manifest.Body?.transformToString()) ?? '{}');
    await s3.send(
      new PutObjectCommand({
        Bucket: services.bucket,
        Key: part,
        Body: `${JSON.stringify({ ...line, bytes: body.length })}\n`,
      }),
    );

    expect((await verify(prefix, ['--stream', stream, '--day', day])).code).toBe(0);
    const deep = await verify(prefix, ['--stream', stream, '--day', day, '--deep']);
    expect(deep.out).toContain(`changed  ${key}: it holds 30 rows, the manifest says 50`);
    expect(deep.code).toBe(1);
  });

  it('with --deep, reports an object that does not decompress as changed, and goes on to the others', async () => {
    const prefix = `${randomName('verify')}/`;
    const stream = randomName('web');
    const day = '2026-12-01';
    const keyOf = (n: number) =>
      `${prefix}stream=${stream}/dt=${day}/hour=10/${stream}-20261201T100000000Z-${n}.ndjson.gz`;
    // About 1 MB, so the decompressor refuses it long before the download ends.
    const content = Array.from(
      { length: 2 },
      (_, n) => `${JSON.stringify({ n, pad: randomBytes(400_000).toString('base64') })}\n`,
    ).join('');
    const sha256 = createHash('sha256').update(content).digest('hex');
    const good = gzipSync(content, { level: 0 });
    // The first deflate block's header made invalid: same size, same metadata.
    const broken = Buffer.from(good);
    broken[10] = 0xff;
    const line = (n: number) => ({
      key: keyOf(n),
      generation: n,
      shard: 0,
      format: 'ndjson.gz',
      events: 2,
      bytes: good.length,
      rawBytes: Buffer.byteLength(content),
      sha256,
      firstReceivedAt: '',
      lastReceivedAt: '',
    });
    await s3.send(
      new PutObjectCommand({
        Bucket: services.bucket,
        Key: `${manifestFolder(prefix, stream, day)}s0-1.ndjson`,
        Body: `${JSON.stringify(line(0))}\n${JSON.stringify(line(1))}\n`,
      }),
    );
    // The first object broken; the second, listed after it, never written.
    await s3.send(
      new PutObjectCommand({
        Bucket: services.bucket,
        Key: keyOf(0),
        Body: broken,
        Metadata: { 'spool-sha256': sha256, 'spool-events': '2' },
      }),
    );

    const deep = await verify(prefix, ['--stream', stream, '--day', day, '--deep']);
    expect(deep.code).toBe(1);
    expect(deep.out).toContain(`changed  ${keyOf(0)}: its content cannot be read (invalid block type)`);
    expect(deep.out).toContain(`missing  ${keyOf(1)}`);
  });

  it('with --deep, fails with a message (never hangs) when a download is cut short', async () => {
    const prefix = `${randomName('verify')}/`;
    // Enough events that the object arrives in many chunks, and is cut among them.
    const { stream, day } = await landGenerations(redis, s3, prefix, 1, 100_000);
    const proxy = await S3FaultProxy.start(services.endpoint);
    try {
      // The objects' downloads only: a cut manifest read fails before --deep reads any object.
      proxy.cutMatches = (method, url) => method === 'GET' && !url.pathname.includes('/_manifests/');
      proxy.set('cutDownloads');
      const cli = runCli('verify', ['--stream', stream, '--day', day, '--deep'], {
        ...s3Env(prefix),
        S3_ENDPOINT: proxy.endpoint,
      });
      expect(await cli.exited).toBe(1);
      expect(cli.err()).toMatch(/^spool verify: /m);
    } finally {
      await proxy.close();
    }
  });

  it("writes an object key's controls as escapes: a key cannot clear the terminal or paint a false verdict", async () => {
    const prefix = `${randomName('verify')}/`;
    const { stream, day } = await landTwoGenerations(prefix);
    const forged = `${prefix}stream=${stream}/dt=${day}/hour=00/\u001b[2J\u001b[32mok: none missing\u0007.ndjson.gz`;
    await s3.send(new PutObjectCommand({ Bucket: services.bucket, Key: forged, Body: gzipSync('{}\n') }));
    const report = await verify(prefix, ['--stream', stream, '--day', day]);
    expect(report.code).toBe(1);
    expect(report.out).not.toContain('\u001b');
    expect(report.out).not.toContain('\u0007');
    expect(report.out).toContain('extra    ');
    expect(report.out).toContain('\\u001b[2J');
  });

  it("writes the controls of an object's metadata as escapes (U+009B is a terminal's CSI)", async () => {
    const prefix = `${randomName('verify')}/`;
    const stream = randomName('web');
    const day = '2026-12-01';
    const key = `${prefix}stream=${stream}/dt=${day}/hour=10/${stream}-20261201T100000000Z-0.ndjson.gz`;
    const content = '{"n":1}\n{"n":2}\n';
    const body = gzipSync(content);
    const sha256 = createHash('sha256').update(content).digest('hex');
    const line = { key, generation: 0, shard: 0, format: 'ndjson.gz', events: 2, bytes: body.length };
    await s3.send(
      new PutObjectCommand({
        Bucket: services.bucket,
        Key: `${manifestFolder(prefix, stream, day)}s0-1.ndjson`,
        Body: `${JSON.stringify({ ...line, rawBytes: content.length, sha256, firstReceivedAt: '', lastReceivedAt: '' })}\n`,
      }),
    );
    const forged = '\u009b2J\u009b32mok: none missing';
    await s3.send(
      new PutObjectCommand({
        Bucket: services.bucket,
        Key: key,
        Body: body,
        Metadata: { 'spool-sha256': sha256, 'spool-events': forged },
      }),
    );

    const report = await verify(prefix, ['--stream', stream, '--day', day]);
    expect(report.code).toBe(1);
    expect(report.out).toContain(`changed  ${key}: its spool-events is \\u009b2J\\u009b32mok`);
    expect([...report.out].filter((c) => c < ' ' && c !== '\n')).toEqual([]);
    expect(report.out).not.toContain('\u009b');
  });

  it('says it cannot reach S3, not Redis, when S3_ENDPOINT does not answer', async () => {
    const cli = runCli('verify', ['--stream', 'web', '--day', '2026-12-01'], {
      ...s3Env(`${randomName('verify')}/`),
      S3_ENDPOINT: 'http://127.0.0.1:1',
    });
    expect(await cli.exited).toBe(1);
    expect(cli.err().trim()).toBe(
      'spool verify: cannot reach S3 (http://127.0.0.1:1): is it running? S3_ENDPOINT says where',
    );
    // Credentials in the URL: refused, never printed (this message printed the URL whole).
    const withCredentials = runCli('verify', ['--stream', 'web', '--day', '2026-12-01'], {
      ...s3Env(`${randomName('verify')}/`),
      S3_ENDPOINT: 'http://AKIAEXAMPLE:secretpw@127.0.0.1:1',
    });
    expect(await withCredentials.exited).toBe(1);
    expect(withCredentials.err()).toContain('S3_ENDPOINT: no credentials in the URL');
    expect(withCredentials.err()).not.toMatch(/secretpw|AKIAEXAMPLE/);
  });

  it('refuses a bad stream or day, and says when a day has no manifest', async () => {
    const prefix = `${randomName('verify')}/`;
    expect((await verify(prefix, ['--stream', 'Bad Name', '--day', '2026-12-01'])).code).toBe(64);
    expect((await verify(prefix, ['--stream', 'web', '--day', 'yesterday'])).code).toBe(64);
    expect((await verify(prefix, ['--stream', 'web', '--day', '2026-02-30'])).code).toBe(64);
    expect((await verify(prefix, ['--stream', 'web', '--day'])).code).toBe(64);
    expect((await verify(prefix, ['--stream', 'web'])).code).toBe(64);
    const nothing = runCli('verify', ['--stream', 'web', '--day', '2026-12-01'], s3Env(prefix));
    expect(await nothing.exited).toBe(1);
    expect(nothing.err()).toContain(
      `no manifest at s3://${services.bucket}/${prefix}_manifests/stream=web/dt=2026-12-01/`,
    );
    expect(nothing.err()).toContain(
      `and no objects under s3://${services.bucket}/${prefix}stream=web/dt=2026-12-01/`,
    );
  });

  it("names a day's objects as extra when its manifest is gone, rather than say the day holds nothing", async () => {
    const prefix = `${randomName('verify')}/`;
    const { stream, day, keys } = await landTwoGenerations(prefix);
    for (const part of await listObjectKeys(s3, services.bucket, manifestFolder(prefix, stream, day))) {
      await s3.send(new DeleteObjectCommand({ Bucket: services.bucket, Key: part }));
    }
    const result = await verify(prefix, ['--stream', stream, '--day', day]);
    expect(result.code).toBe(1);
    expect(result.out).toContain('no manifest, and objects in the day');
    for (const key of keys) expect(result.out).toContain(`extra    ${key}`);
    expect(result.out).toContain('2 problem(s)');
  });
});
