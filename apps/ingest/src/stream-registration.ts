import {
  type ReplicaAck,
  registerStream,
  STREAM_REGISTRATION_REFRESH_MS,
  streamRegistryKey,
} from '@spool/shared';
import type { Cluster, Redis } from 'ioredis';

/** Streams remembered as registered (a cache: forgetting one costs one more registration). */
const MAX_REMEMBERED_STREAMS = 10_000;

/**
 * Registers a stream in the stream registry before it is appended to, so the sweep always knows
 * a buffer that holds data (its time-based flush depends on it): a registration that fails fails
 * the append before anything is stored. Within STREAM_REGISTRATION_REFRESH_MS of its last
 * registration, measured from before that command was sent, a stream is not registered again.
 * With REDIS_MIN_REPLICAS_ACK, a registration counts once the replicas hold it, as an append does.
 */
export class StreamRegistration {
  private readonly registeredAt = new Map<string, number>();
  /** The registry's key: where a registration goes (and what a timed-out one waited on). */
  readonly registry: string;

  constructor(
    private readonly redis: Redis | Cluster,
    namespace: string,
    private readonly ack?: ReplicaAck,
  ) {
    this.registry = streamRegistryKey(namespace);
  }

  /** Undefined when the stream is registered recently enough; otherwise the registration. */
  ensure(stream: string): Promise<void> | undefined {
    const at = this.registeredAt.get(stream);
    if (at !== undefined && performance.now() - at < STREAM_REGISTRATION_REFRESH_MS) return undefined;
    return this.register(stream);
  }

  /**
   * Registers a stream again now, whatever this process remembers: for an append that started a
   * new buffer. The registry may have lost the stream meanwhile (a FLUSHALL, the registry's key
   * deleted or lost in a failover): events appended within a minute of that, then no more, were
   * never swept, and never flushed (a review's run).
   */
  renew(stream: string): Promise<void> {
    return this.register(stream);
  }

  /** Forgets that a stream was registered: the next append registers it first. */
  forget(stream: string): void {
    this.registeredAt.delete(stream);
  }

  private async register(stream: string): Promise<void> {
    const sentAt = performance.now();
    await registerStream(this.redis, this.registry, stream, this.ack);
    if (this.registeredAt.size >= MAX_REMEMBERED_STREAMS) this.registeredAt.clear();
    this.registeredAt.set(stream, sentAt);
  }
}
