import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from '@jest/globals';
import { copyToParquet } from '@spool/flusher/dist/parquet-duckdb.js';
import type { ParquetSchema } from '@spool/flusher/dist/parquet-schema.js';
import { createTestS3, randomName, testServices } from '@spool/testkit';
import { S3FaultProxy } from '@spool/testkit/local-stack';
import { type ClientLog, messageId, OUTCOME } from './load.js';
import { runProblems, verify } from './verify.js';

/** The read-back every loadtest, chaos and soak run ends with: what it counts, and what fails it. */
const { s3: services } = testServices();
const s3 = createTestS3();
afterAll(() => s3.destroy());

const EVENTS = 2;
const put = (key: string, body: Uint8Array) =>
  s3.send(new PutObjectCommand({ Bucket: services.bucket, Key: key, Body: body }));
const lines = (runId: string, events: Array<[number, number, number]>) =>
  events
    .map(([client, seq, event]) => `{"messageId":"${messageId(runId, client, seq, event)}","n":1}\n`)
    .join('');

/** The bytes of a Parquet file of `ndjson` written by the flusher's own DuckDB COPY. */
async function parquetOf(dir: string, ndjson: string, schema: ParquetSchema): Promise<Uint8Array> {
  const name = randomName('p');
  const input = join(dir, `${name}.ndjson`);
  const output = join(dir, `${name}.parquet`);
  await writeFile(input, ndjson);
  const spill = join(dir, 'spill');
  await copyToParquet({
    inputs: [input],
    output,
    spill,
    schema,
    rowGroupRows: 2048,
    rowGroupBytes: 4096,
    maxLineBytes: 4096,
  });
  return readFile(output);
}

/** One client whose three requests were all answered 202. */
const acceptedThree = (): ClientLog[] => [
  { outcome: [OUTCOME.accepted, OUTCOME.accepted, OUTCOME.accepted], answeredAt: [1, 2, 3] },
];

describe("the loadtest's read-back", () => {
  it('reads gzip and zstd objects under the stack S3_PREFIX, and finds events missing or in another stream', async () => {
    const prefix = `${randomName('lt')}/`;
    const runId = randomName('r').replaceAll('-', ''); // as the tools' run ids: no '-'
    // Request n of client 0 goes to streams[n % 2].
    const [a, b] = [`${runId}-a`, `${runId}-b`];
    await put(
      `${prefix}stream=${a}/dt=2026-12-02/hour=10/${a}-1.ndjson.gz`,
      gzipSync(
        lines(runId, [
          [0, 0, 0],
          [0, 0, 1],
        ]),
      ),
    );
    await put(
      `${prefix}stream=${b}/dt=2026-12-02/hour=10/${b}-1.ndjson.zst`,
      zstdCompressSync(
        lines(runId, [
          [0, 1, 0],
          [0, 1, 1],
        ]),
      ),
    );
    // Request 2 belongs in stream a: one of its events landed in b, the other nowhere.
    await put(
      `${prefix}stream=${b}/dt=2026-12-02/hour=11/${b}-2.ndjson.gz`,
      gzipSync(lines(runId, [[0, 2, 0]])),
    );

    const result = await verify(
      s3,
      { bucket: services.bucket, prefix },
      [a, b],
      runId,
      EVENTS,
      acceptedThree(),
    );
    expect(result).toMatchObject({
      objects: 3,
      landedEvents: 5,
      acceptedLanded: 5,
      missing: 1,
      misplaced: 1,
      duplicated: 0,
      missingRequests: [[0, 2]],
    });
    // Without the prefix, nothing is found: every accepted event is missing.
    expect(
      await verify(s3, { bucket: services.bucket }, [a, b], runId, EVENTS, acceptedThree()),
    ).toMatchObject({
      objects: 0,
      missing: 6,
    });
  });

  it('counts a copy that re-wrote an event (its keys reordered) as a duplicate, and a line of no event of the run as failing it', async () => {
    const prefix = `${randomName('lt')}/`;
    const runId = randomName('r').replaceAll('-', '');
    const [a, b] = [`${runId}-a`, `${runId}-b`];
    const key = (stream: string, n: number) =>
      `${prefix}stream=${stream}/dt=2026-12-02/hour=10/${stream}-${n}.ndjson.gz`;
    await put(
      key(a, 1),
      gzipSync(
        lines(runId, [
          [0, 0, 0],
          [0, 0, 1],
          [0, 2, 0],
          [0, 2, 1],
        ]),
      ),
    );
    await put(
      key(b, 1),
      gzipSync(
        lines(runId, [
          [0, 1, 0],
          [0, 1, 1],
        ]),
      ),
    );
    // The same event again, written another way, and a line no client sent.
    const again = `{"n":1, "messageId":"${messageId(runId, 0, 0, 0)}"}\n{"n":2}\n`;
    await put(key(a, 2), gzipSync(again));

    const result = await verify(
      s3,
      { bucket: services.bucket, prefix },
      [a, b],
      runId,
      EVENTS,
      acceptedThree(),
    );
    expect(result).toMatchObject({ landedEvents: 8, duplicated: 1, foreign: 1, missing: 0 });
    const stats = { acceptedEvents: 6, wrongAnswers: 0 } as Parameters<typeof runProblems>[0];
    expect(runProblems(stats, result)).toEqual([
      '1 duplicate(s)',
      "1 line(s) that are none of the run's events",
    ]);
  });

  it('calls missing events lost only when the wait for landing did not end first', () => {
    const stats = { acceptedEvents: 6, wrongAnswers: 0 } as Parameters<typeof runProblems>[0];
    const result = {
      missing: 3,
      missingRequests: [[0, 1]],
      duplicated: 0,
      refusedFound: 0,
      misplaced: 0,
      foreign: 0,
    };
    const v = result as unknown as Parameters<typeof runProblems>[1];
    expect(runProblems(stats, v)).toEqual([
      '1 acknowledged request(s) lost events (3 event(s) missing in all)',
    ]);
    expect(runProblems(stats, v, { landingTimedOut: true })).toEqual([
      "1 acknowledged request(s) had events not in S3 when the wait for landing ended (3 event(s) in all): still in Redis, or lost; see the flusher's logs",
    ]);
  });

  it('reads every object of a stream that has more than one listing page (1,000 keys)', async () => {
    const prefix = `${randomName('lt')}/`;
    const runId = randomName('r').replaceAll('-', '');
    const objects = 1_001;
    for (let from = 0; from < objects; from += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, objects - from) }, (_, i) =>
          put(
            `${prefix}stream=${runId}-a/dt=2026-12-02/hour=10/${from + i}.ndjson.gz`,
            gzipSync(lines(runId, [[0, from + i, 0]])),
          ),
        ),
      );
    }
    const logs: ClientLog[] = [
      { outcome: Array(objects).fill(OUTCOME.accepted), answeredAt: Array(objects).fill(1) },
    ];
    expect(
      await verify(s3, { bucket: services.bucket, prefix }, [`${runId}-a`], runId, 1, logs),
    ).toMatchObject({
      objects,
      acceptedLanded: objects,
      missing: 0,
    });
  });

  it('reads Parquet objects, typed columns and whole events alike, and counts a duplicate and a missing event', async () => {
    const prefix = `${randomName('lt')}/`;
    const runId = randomName('r').replaceAll('-', ''); // as the tools' run ids: no '-'
    const stream = `${runId}-a`;
    const dir = await mkdtemp(join(tmpdir(), 'verify-parquet-'));
    try {
      // Request 0's events typed; request 1's first event as a whole event, and request 0's
      // second once more; request 1's second event nowhere.
      await put(
        `${prefix}stream=${stream}/dt=2026-12-02/hour=10/x.parquet`,
        await parquetOf(
          dir,
          lines(runId, [
            [0, 0, 0],
            [0, 0, 1],
          ]),
          {
            kind: 'columns',
            columns: [
              { name: 'messageId', type: 'VARCHAR' },
              { name: 'n', type: 'BIGINT' },
            ],
          },
        ),
      );
      await put(
        `${prefix}stream=${stream}/dt=2026-12-02/hour=11/y.parquet`,
        await parquetOf(
          dir,
          lines(runId, [
            [0, 1, 0],
            [0, 0, 1],
          ]),
          { kind: 'whole-event', reason: 'test' },
        ),
      );
      const logs: ClientLog[] = [{ outcome: [OUTCOME.accepted, OUTCOME.accepted], answeredAt: [1, 2] }];
      expect(
        await verify(s3, { bucket: services.bucket, prefix }, [stream], runId, EVENTS, logs),
      ).toMatchObject({
        objects: 2,
        landedEvents: 4,
        acceptedLanded: 3,
        missing: 1,
        duplicated: 1,
        missingRequests: [[0, 1]],
        foreign: 0,
      });

      // A Parquet object with no messageId to read fails the run rather than count its rows as foreign.
      await put(
        `${prefix}stream=${stream}/dt=2026-12-02/hour=12/z.parquet`,
        await parquetOf(dir, '{"n":1}\n', { kind: 'columns', columns: [{ name: 'n', type: 'BIGINT' }] }),
      );
      await expect(
        verify(s3, { bucket: services.bucket, prefix }, [stream], runId, EVENTS, logs),
      ).rejects.toThrow(/neither a messageId nor an _event column/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails, never hangs, on a download cut short', async () => {
    const prefix = `${randomName('lt')}/`;
    const runId = randomName('r').replaceAll('-', ''); // as the tools' run ids: no '-'
    // Megabytes that do not compress: the download arrives in many chunks, and is cut among them.
    const events = Array.from(
      { length: 50_000 },
      (_, seq) =>
        `{"messageId":"${messageId(runId, 0, seq, 0)}","pad":"${randomBytes(24).toString('hex')}"}\n`,
    );
    await put(`${prefix}stream=${runId}-a/dt=2026-12-02/hour=10/x.ndjson.gz`, gzipSync(events.join('')));
    const proxy = await S3FaultProxy.start(services.endpoint);
    const cut = createTestS3({ ...testServices(), s3: { ...services, endpoint: proxy.endpoint } });
    try {
      proxy.set('cutDownloads');
      await expect(
        verify(cut, { bucket: services.bucket, prefix }, [`${runId}-a`], runId, 1, acceptedThree()),
      ).rejects.toThrow();
    } finally {
      cut.destroy();
      await proxy.close();
    }
  });
});
