export {
  LocalStack,
  type LocalStackOptions,
  type ServiceOptions,
  type SpoolService,
  type StackFaults,
  type StackS3,
} from './local-stack.js';
export { ManagedProcess, type ProcessOutput, startChildrenInOwnSessions } from './managed-process.js';
export {
  type ClusterNodeState,
  LocalRedisCluster,
  type LocalRedisClusterOptions,
  type SlotMove,
} from './redis-cluster.js';
export { startRedisServer } from './redis-server.js';
export { type HeldRequest, type RequestMatch, type S3Fault, S3FaultProxy } from './s3-fault-proxy.js';
export { LOCAL_S3_CREDENTIALS, REPO_ROOT, s3StandinMain } from './s3-standin.js';
