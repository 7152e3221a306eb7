import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { createTestS3 } from './clients.js';
import { S3_DEFAULTS, testServices } from './env.js';
import { testImages } from './images.js';

const REDIS_PORT = 6379;
const S3_PORT = 9000;

/** Starts a Redis container; persistence off, since every test run starts from nothing. */
async function startRedis(image: string): Promise<StartedTestContainer> {
  return new GenericContainer(image)
    .withExposedPorts(REDIS_PORT)
    .withCommand(['redis-server', '--protected-mode', 'no', '--save', '', '--appendonly', 'no'])
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
}

/**
 * Starts an S3-compatible container speaking MinIO's interface (`server /data`, port 9000, root
 * credentials from the environment): MinIO itself, or the s3rver stand-in built where no image
 * can be pulled.
 */
async function startS3(image: string): Promise<StartedTestContainer> {
  return (
    new GenericContainer(image)
      .withExposedPorts(S3_PORT)
      .withEnvironment({
        MINIO_ROOT_USER: S3_DEFAULTS.accessKeyId,
        MINIO_ROOT_PASSWORD: S3_DEFAULTS.secretAccessKey,
      })
      .withCommand(['server', '/data'])
      // Any HTTP answer means the server is up; images differ in which paths they know.
      .withWaitStrategy(Wait.forHttp('/', S3_PORT).forStatusCodeMatching(() => true))
      .start()
  );
}

async function ensureBucket(): Promise<void> {
  const services = testServices();
  const s3 = createTestS3(services);
  try {
    await s3.send(new HeadBucketCommand({ Bucket: services.s3.bucket })).catch(async () => {
      await s3.send(new CreateBucketCommand({ Bucket: services.s3.bucket }));
    });
  } finally {
    s3.destroy();
  }
}

/**
 * Makes sure the test run has Redis and S3: the ones named by TEST_REDIS_URL / TEST_S3_ENDPOINT
 * when set, else containers started here, a Redis for each of `workers` (env.ts). Writes their
 * addresses to `process.env`, where Jest's workers (started after the global setup) read them.
 * Returns the containers it started.
 */
export async function startTestServices(workers = 1): Promise<StartedTestContainer[]> {
  const images = testImages();
  const started: StartedTestContainer[] = [];
  const track = (container: StartedTestContainer) => {
    started.push(container);
    return container;
  };
  try {
    const [redises, s3] = await Promise.all([
      process.env.TEST_REDIS_URL
        ? undefined
        : Promise.all(
            Array.from({ length: Math.max(workers, 1) }, () => startRedis(images.redis).then(track)),
          ),
      process.env.TEST_S3_ENDPOINT ? undefined : startS3(images.s3).then(track),
    ]);
    if (redises) {
      process.env.TEST_REDIS_URL = redises
        .map((redis) => `redis://${redis.getHost()}:${redis.getMappedPort(REDIS_PORT)}`)
        .join(',');
    }
    if (s3) process.env.TEST_S3_ENDPOINT = `http://${s3.getHost()}:${s3.getMappedPort(S3_PORT)}`;
    await ensureBucket();
    return started;
  } catch (error) {
    await stopTestServices(started);
    throw error;
  }
}

export async function stopTestServices(containers: StartedTestContainer[]): Promise<void> {
  await Promise.allSettled(containers.map((container) => container.stop({ timeout: 2_000 })));
}
