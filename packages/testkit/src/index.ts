export { makeTestCertificates, type TestCertificates } from './certificates.js';
export { type ChildOutput, childOutput } from './child-output.js';
export { createTestRedis, createTestS3, keptMaxmemory } from './clients.js';
export { S3_DEFAULTS, type TestServices, testServices } from './env.js';
export { testImages } from './images.js';
export { withoutSpoolSettings } from './inherited-env.js';
export { inFlight, type LandingOptions, waitUntilLanded } from './landing.js';
export { randomName } from './names.js';
export { type RawConnection, sendRawHttp } from './raw-http.js';
export {
  listObjectKeys,
  listOpenUploads,
  readSpoolObject,
  type SpoolObject,
  saveObject,
} from './s3-objects.js';
export { type ServiceProcess, spawnService, untilReady } from './service-process.js';
export { startTestServices, stopTestServices } from './services.js';
export { flusherTestEnv, ingestTestEnv, SPOOL_MAINS, SPOOL_NODE_FLAGS } from './spool-services.js';
export { TcpProxy } from './tcp-proxy.js';
export { until, waitFor } from './wait.js';
export { ONLY_THE_WALL_CLOCK } from './wall-clock.js';
