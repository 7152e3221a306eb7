export { acceptsGzip } from './accept-gzip.js';
export { refuseAmbiguousRequests, refuseIfAmbiguous } from './ambiguous-requests.js';
export { daysInMonth } from './calendar.js';
export { closeConnectionsOnClose, UNFINISHED_REQUEST_GRACE_MS } from './close-connections.js';
export {
  type Config,
  ConfigError,
  loadConfig,
  nearestSetting,
  type OutputFormat,
  REDIS_STRING_LIMIT,
  type S3Encryption,
  SETTINGS,
  type SpoolProcess,
  STORED_BYTES_PER_BODY_BYTE,
  type TrustProxy,
  unknownSettings,
  type WriteKey,
} from './config.js';
export {
  adminKeys,
  entriesBasicCannotCarry,
  entriesUrlsCannotCarry,
  type MemoryReserve,
  OUTPUT_FORMATS,
  outputFormat,
  redisNamespace,
  redisUrl,
  writeKeys,
} from './config-fields.js';
export { type HealthRouteOptions, healthRoutes, metricsRoute } from './health-routes.js';
export { ipv6Groups, mappedIpv4 } from './ipv6.js';
export { parseIsoTime } from './iso-time.js';
export {
  keyFileReadOkGauge,
  watchKeyFile,
} from './key-file-watch.js';
export { keyPrefixProblem } from './key-prefix.js';
export {
  DEFAULT_NAMESPACE,
  flusherAliveKey,
  lastFlushErrorKey,
  legacyLastFlushErrorKey,
  legacyRegistryKeys,
  queuePrefix,
  rateLimitNamespace,
  redisEpochKey,
  registryRecoveryKey,
  type StreamKeys,
  streamKeys,
  streamRegistryKey,
  sweepLeaseKey,
} from './keys.js';
export {
  CHECK_CONFIG_OPTION,
  exitIfOnlyChecking,
  exitOnRefusedDatabase,
  listenOrExit,
  loadConfigOrExit,
  refuseClusterNode,
  stopOnSignals,
  warnOfUnknownSettings,
} from './lifecycle.js';
export {
  ABSOLUTE_FORM,
  createLogger,
  type LoggedAddress,
  type LoggedRequest,
  lazyChildLogger,
  loggableUrl,
  loggerOptions,
} from './logger.js';
export { missingNodeFeatures, NODE_ENGINES, oldNodeProblem, refuseOldNode } from './node-version.js';
export { methodAnswered, notFoundWithoutSecrets } from './not-found.js';
export { addressedHost, namedHostMatcher, openHost } from './open-host.js';
export { forStream, type PerStream } from './per-stream.js';
export { percentDecoded } from './percent-decoded.js';
export {
  addFlushJob,
  FLUSH_BACKOFF,
  FLUSH_JOB,
  FLUSH_JOB_OPTIONS,
  FLUSH_QUEUE,
  type FlushJobData,
  flushBackoffDelay,
  flushJobId,
  flushJobState,
  hurryFlushJob,
  parseFlushJobId,
  QUEUE_CONNECTION_OPTIONS,
  wentInFront,
} from './queue.js';
export {
  type ConnectOptions,
  connectRedis,
  keepErrorsAfterClose,
  keySlot,
  masterOfKey,
  mastersToJudge,
  onConnectionErrors,
  onNodeErrors,
  pipelineValues,
  type RedisClient,
  redisNotReady,
  refusedDatabase,
} from './redis-connection.js';
export { parseInfo } from './redis-info.js';
export { redisClusterDown, redisIsReplica } from './redis-role.js';
export {
  type ClusterNode,
  describeRedisTarget,
  parseClusterNodes,
  type RedisTarget,
  tlsMismatchHint,
  usesTls,
} from './redis-target.js';
export {
  type RepeatedLog,
  redisConnectionWarnings,
  repeatedLog,
  repeatedLogPerKey,
} from './repeated-log.js';
export { refusedByAcl, replyCode } from './reply-code.js';
export { RequestLogs, type RequestLogsOptions, requestLogs } from './request-logs.js';
export {
  type AppendRequest,
  type AppendResult,
  appendToBuffer,
  type ClientMessageIds,
  crossedThreshold,
  defineSpoolCommands,
  forgetStream,
  pinDestination,
  purgeStream,
  type ReplicaAck,
  ReplicaAckError,
  readUnit,
  reconcileSealed,
  recordRejected,
  redisNow,
  registerStream,
  releaseGeneration,
  repinDestination,
  replicaAckOf,
  type SealedReconciliation,
  type SealResult,
  type SideFile,
  sealGeneration,
  sideFileKeys,
  startDrain,
  type UnitReads,
} from './scripts.js';
export { basicPassword, keyMatcher, presentedKey, sha256 } from './secret-keys.js';
export { readSettingFiles, type SettingFile } from './setting-files.js';
export { SLOW_CLIENT_LIMITS, type SlowClientLimits } from './slow-clients.js';
export {
  MAX_STREAM_LABELS,
  OTHER_STREAMS_LABEL,
  removeStreamSeries,
  type StreamLabeler,
  type StreamLabelerOptions,
  streamLabeler,
} from './stream-labels.js';
export { isValidStreamName, ownStreamName, STREAM_NAME_PATTERN } from './stream-name.js';
export { STREAM_REGISTRATION_REFRESH_MS, streamForgetAfterMs } from './stream-registry.js';
export {
  MAX_STREAM_SHARDS,
  parseShardUnit,
  type StreamShards,
  shardCount,
  shardLimits,
  shardOfMessageId,
  shardUnit,
  streamOfUnit,
  unitLimits,
} from './stream-shards.js';
export { parseDuration, parseSize } from './units.js';
export { ACTING_CHARACTERS, escapeActing } from './visible-text.js';
export { LATE, settledWithin, within } from './within.js';
