import { afterAll, describe, expect, it } from '@jest/globals';
import { appendToBuffer, defineSpoolCommands, loadConfig, streamKeys } from '@spool/shared';
import {
  createTestRedis,
  createTestS3,
  listObjectKeys,
  randomName,
  readSpoolObject,
  testServices,
} from '@spool/testkit';
import { pino } from 'pino';
import { flushGeneration } from './flush-generation.js';
import { createFlusherMetrics } from './metrics.js';
import { fillBuffer, flusherTestEnv } from './test-support.js';

const services = testServices();
const redis = createTestRedis();
defineSpoolCommands(redis);
const s3 = createTestS3();
afterAll(async () => {
  await redis.quit();
  s3.destroy();
});

function deps(prefix: string) {
  const config = loadConfig(flusherTestEnv({ S3_PREFIX: prefix }), 'flusher');
  return { config, redis, s3, logger: pino({ level: 'silent' }), metrics: createFlusherMetrics() };
}

describe('flushGeneration', () => {
  it('run by several workers at once for one generation, writes one object under one key and counts events once', async () => {
    const stream = randomName('race');
    const prefix = `${randomName('race')}/`;
    const ids = await fillBuffer(redis, streamKeys(stream), 3 * 1024 * 1024);

    const outcomes = await Promise.all(
      Array.from({ length: 4 }, () => flushGeneration(deps(prefix), stream, 0)),
    );

    const uploadedKeys = new Set(
      outcomes.flatMap((outcome) => (outcome.status === 'uploaded' ? [outcome.key] : [])),
    );
    expect(uploadedKeys.size).toBe(1);
    const objects = await listObjectKeys(s3, services.s3.bucket, prefix);
    expect(objects).toEqual([...uploadedKeys]);
    const object = await readSpoolObject(s3, services.s3.bucket, objects[0] as string);
    expect(object.lines.map((line) => JSON.parse(line).messageId)).toEqual(ids);
    expect(await redis.hgetall(streamKeys(stream).stats)).toEqual({
      accepted: String(ids.length),
      landed: String(ids.length),
    });
  });

  it('does nothing for a generation already uploaded, and never writes an empty object', async () => {
    const stream = randomName('none');
    const prefix = `${randomName('none')}/`;
    expect(await flushGeneration(deps(prefix), stream, 0)).toEqual({ status: 'nothing' });
    await appendToBuffer(
      redis,
      streamKeys(stream),
      '{"receivedAt":"2026-01-01T00:00:00.000Z","messageId":"a"}\n',
      1,
      1e6,
      1,
    );
    expect(await flushGeneration(deps(prefix), stream, 0)).toMatchObject({ status: 'uploaded', events: 1 });
    expect(await flushGeneration(deps(prefix), stream, 0)).toEqual({ status: 'nothing' });
    expect(await flushGeneration(deps(prefix), stream, 1)).toEqual({ status: 'nothing' });
    expect(await listObjectKeys(s3, services.s3.bucket, prefix)).toHaveLength(1);
  });
});
