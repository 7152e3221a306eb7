export {
  type Config,
  ConfigError,
  loadConfig,
  REDIS_STRING_LIMIT,
  type SpoolProcess,
  type WriteKey,
} from './config.js';
export { type HealthRouteOptions, healthRoutes, quietProbes } from './health-routes.js';
export {
  DEFAULT_NAMESPACE,
  queuePrefix,
  rateLimitNamespace,
  type StreamKeys,
  streamKeys,
  streamsKey,
} from './keys.js';
export { loadConfigOrExit, stopOnSignals } from './lifecycle.js';
export { createLogger, loggerOptions } from './logger.js';
export {
  FLUSH_BACKOFF,
  FLUSH_JOB,
  FLUSH_JOB_OPTIONS,
  FLUSH_QUEUE,
  type FlushJobData,
  flushBackoffDelay,
  flushJobId,
  parseFlushJobId,
} from './queue.js';
export {
  type AppendResult,
  appendToBuffer,
  crossedThreshold,
  defineSpoolCommands,
  releaseGeneration,
  type SealResult,
  sealGeneration,
} from './scripts.js';
export { MAX_STREAM_LABELS, OTHER_STREAMS_LABEL, streamLabeler } from './stream-labels.js';
export { isValidStreamName, STREAM_NAME_PATTERN } from './stream-name.js';
export { parseDuration, parseSize } from './units.js';
