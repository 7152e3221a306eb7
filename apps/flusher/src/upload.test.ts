import { createHash, randomBytes } from 'node:crypto';
import { AbortMultipartUploadCommand, type S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from '@jest/globals';
import { recordingS3 } from '../test/recording-s3.js';
import { QUEUE_SIZE, uploadBody } from './upload.js';

const PART_BYTES = 5 * 1024 * 1024;

describe('uploadBody', () => {
  it('aborts the multipart upload when S3 fails a part, leaving no parts behind', async () => {
    // More than one part, so the upload goes multipart.
    const content = randomBytes(3 * PART_BYTES);
    const { client, sent } = recordingS3((command) =>
      command instanceof UploadPartCommand ? new Error('S3 is down') : undefined,
    );
    const body = { pieces: [content], contentType: 'application/gzip', metadata: {} };
    await expect(uploadBody({ s3: client, bucket: 'b', key: 'k' }, body, PART_BYTES)).rejects.toThrow();
    const aborts = sent.filter((command) => command instanceof AbortMultipartUploadCommand);
    expect(aborts).toHaveLength(1);
    expect((aborts[0] as AbortMultipartUploadCommand).input).toMatchObject({
      Bucket: 'b',
      Key: 'k',
      UploadId: 'upload-1',
    });
  });
});

/**
 * An S3 client that keeps what it is sent (each part's bytes copied as sent: the uploader reuses
 * its buffers), answers each part after a turn of the event loop, and counts the parts in flight.
 */
function partsS3(
  checksums: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED' = 'WHEN_REQUIRED',
  answers: {
    /** Waited for before answering a part (by its number). */
    partAnswered?: (partNumber: number) => Promise<void>;
    /** Answers without an ETag, as a broken or hostile S3 can. */
    noETag?: 'PutObjectCommand' | 'UploadPartCommand';
  } = {},
) {
  const sent: Array<{ command: string; input: Record<string, unknown>; body?: Buffer }> = [];
  /** The memory each part was sent from. */
  const partMemory = new Set<ArrayBufferLike>();
  let inFlight = 0;
  let mostInFlight = 0;
  const client = {
    config: { requestChecksumCalculation: async () => checksums },
    send: async (command: { input: Record<string, unknown> }) => {
      const name = command.constructor.name;
      const body = command.input.Body as Buffer | undefined;
      sent.push({ command: name, input: command.input, ...(body && { body: Buffer.from(body) }) });
      if (name === 'CreateMultipartUploadCommand') return { UploadId: 'upload-1' };
      if (name === 'UploadPartCommand') {
        partMemory.add((body as Buffer).buffer);
        inFlight += 1;
        mostInFlight = Math.max(mostInFlight, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        await answers.partAnswered?.(command.input.PartNumber as number);
        inFlight -= 1;
        if (answers.noETag === name) return {};
        return {
          ETag: `"part-${command.input.PartNumber}"`,
          ChecksumCRC32: `crc-${command.input.PartNumber}`,
        };
      }
      return answers.noETag === name ? {} : { ETag: '"object"' };
    },
  };
  return { client: client as unknown as S3Client, sent, mostInFlight: () => mostInFlight, partMemory };
}

const target = (s3: S3Client) => ({ s3, bucket: 'b', key: 'k' });
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('uploadBody, part by part', () => {
  it('sends parts of S3_PART_SIZE in order, the last one shorter, from two buffers reused, then completes with every part', async () => {
    const content = randomBytes(3 * PART_BYTES + 1234);
    // Pieces of odd sizes, as a compressor hands them out.
    const pieces = [
      content.subarray(0, 1000),
      content.subarray(1000, 7 * 1024 * 1024),
      content.subarray(7 * 1024 * 1024),
    ];
    const { client, sent, mostInFlight, partMemory } = partsS3();
    const answer = await uploadBody(
      target(client),
      { pieces, contentType: 'application/gzip', metadata: { events: '3' } },
      PART_BYTES,
    );

    expect(answer).toEqual({ compressedBytes: content.length, objectSha256: sha256(content) });
    expect(sent.map(({ command }) => command)).toEqual([
      'CreateMultipartUploadCommand',
      'UploadPartCommand',
      'UploadPartCommand',
      'UploadPartCommand',
      'UploadPartCommand',
      'CompleteMultipartUploadCommand',
    ]);
    expect(sent[0]?.input).toEqual({
      Bucket: 'b',
      Key: 'k',
      ContentType: 'application/gzip',
      Metadata: { events: '3' },
    });
    const parts = sent.filter(({ command }) => command === 'UploadPartCommand');
    expect(parts.map(({ input }) => [input.PartNumber, input.ContentLength])).toEqual([
      [1, PART_BYTES],
      [2, PART_BYTES],
      [3, PART_BYTES],
      [4, 1234],
    ]);
    expect(Buffer.concat(parts.map(({ body }) => body as Buffer)).equals(content)).toBe(true);
    expect(mostInFlight()).toBe(QUEUE_SIZE);
    // Its part buffers reused: QUEUE_SIZE in all, in flight or being filled.
    expect(partMemory.size).toBe(QUEUE_SIZE);
    expect(sent.at(-1)?.input.MultipartUpload).toEqual({
      Parts: [1, 2, 3, 4].map((n) => ({ PartNumber: n, ETag: `"part-${n}"`, ChecksumCRC32: `crc-${n}` })),
    });
  });

  it('sends a body of whole parts with no empty part after them', async () => {
    const content = randomBytes(2 * PART_BYTES);
    const { client, sent } = partsS3();
    await uploadBody(target(client), { pieces: [content], contentType: 'x', metadata: {} }, PART_BYTES);
    const parts = sent.filter(({ command }) => command === 'UploadPartCommand');
    expect(parts.map(({ input }) => input.ContentLength)).toEqual([PART_BYTES, PART_BYTES]);
  });

  it('sends a last part of a single byte', async () => {
    const content = randomBytes(PART_BYTES + 1);
    const { client, sent } = partsS3();
    await uploadBody(target(client), { pieces: [content], contentType: 'x', metadata: {} }, PART_BYTES);
    const parts = sent.filter(({ command }) => command === 'UploadPartCommand');
    expect(parts.map(({ input }) => input.ContentLength)).toEqual([PART_BYTES, 1]);
    expect(Buffer.concat(parts.map(({ body }) => body as Buffer)).equals(content)).toBe(true);
  });

  it('completes with the parts in ascending order when a later part is answered first', async () => {
    let secondAnswered = () => {};
    const second = new Promise<void>((resolve) => {
      secondAnswered = resolve;
    });
    const { client, sent } = partsS3('WHEN_REQUIRED', {
      partAnswered: async (partNumber) => {
        if (partNumber === 1) await second;
        if (partNumber === 2) secondAnswered();
      },
    });
    await uploadBody(
      target(client),
      { pieces: [randomBytes(2 * PART_BYTES + 10)], contentType: 'x', metadata: {} },
      PART_BYTES,
    );
    const complete = sent.at(-1)?.input.MultipartUpload as
      | { Parts: Array<{ PartNumber: number }> }
      | undefined;
    expect(complete?.Parts.map(({ PartNumber }) => PartNumber)).toEqual([1, 2, 3]);
  });

  it.each([
    ['a PutObject', 'PutObjectCommand', 1000],
    ['a part', 'UploadPartCommand', PART_BYTES + 10],
  ] as const)(
    'fails when S3 answers %s without an ETag: no object is confirmed',
    async (_, command, size) => {
      const { client } = partsS3('WHEN_REQUIRED', { noETag: command });
      await expect(
        uploadBody(
          target(client),
          { pieces: [randomBytes(size)], contentType: 'x', metadata: {} },
          PART_BYTES,
        ),
      ).rejects.toThrow(/ETag/);
    },
  );

  it("refuses a body of more than S3's 10,000 parts, naming S3_PART_SIZE", async () => {
    const { client } = partsS3();
    await expect(
      uploadBody(target(client), { pieces: [Buffer.alloc(10_001)], contentType: 'x', metadata: {} }, 1),
    ).rejects.toThrow(/10000 parts: raise S3_PART_SIZE/);
  });

  it('sends a body smaller than a part, or empty, as one PutObject', async () => {
    for (const content of [randomBytes(1000), Buffer.alloc(0)]) {
      const { client, sent } = partsS3();
      const answer = await uploadBody(
        target(client),
        { pieces: [content], contentType: 'x', metadata: { a: '1' } },
        PART_BYTES,
      );
      expect(answer).toEqual({ compressedBytes: content.length, objectSha256: sha256(content) });
      expect(
        sent.map(({ command, input, body }) => [
          command,
          input.ContentLength,
          input.Metadata,
          body?.equals(content),
        ]),
      ).toEqual([['PutObjectCommand', content.length, { a: '1' }, true]]);
    }
  });

  it('asks for CRC32 part checksums when the client computes them (S3_CHECKSUMS=when_supported)', async () => {
    const { client, sent } = partsS3('WHEN_SUPPORTED');
    await uploadBody(
      target(client),
      { pieces: [randomBytes(PART_BYTES + 1)], contentType: 'x', metadata: {} },
      PART_BYTES,
    );
    expect(sent[0]?.input.ChecksumAlgorithm).toBe('CRC32');
  });

  it("fails with the body's error, and aborts the upload it began", async () => {
    const { client, sent } = partsS3();
    async function* failing() {
      yield randomBytes(PART_BYTES + 10);
      throw new Error('Redis went away');
    }
    await expect(
      uploadBody(target(client), { pieces: failing(), contentType: 'x', metadata: {} }, PART_BYTES),
    ).rejects.toThrow('Redis went away');
    expect(sent.map(({ command }) => command)).toEqual([
      'CreateMultipartUploadCommand',
      'UploadPartCommand',
      'AbortMultipartUploadCommand',
    ]);
  });
});
