import {
  type ReplicaAck,
  registerStream,
  STREAM_REGISTRATION_REFRESH_MS,
  streamRegistryKey,
} from '@spool/shared';
import type { Cluster, Redis } from 'ioredis';

/**
 * Streams remembered as registered (a cache: forgetting one costs one more registration), some
 * 10 MB at most. At 10,000 and emptied whole when full, an ingest writing to 11,000 streams a
 * minute registered four appends in five again (a review's run).
 */
const MAX_REMEMBERED_STREAMS = 100_000;

/**
 * Registers a stream in the stream registry before it is appended to, so the sweep always knows
 * a buffer that holds data (its time-based flush depends on it): a registration that fails fails
 * the append before anything is stored. Within STREAM_REGISTRATION_REFRESH_MS of its last
 * registration, measured from before that command was sent, a stream is not registered again.
 * With REDIS_MIN_REPLICAS_ACK, a registration counts once the replicas hold it, as an append does.
 */
export class StreamRegistration {
  /** Oldest registration first (a Map keeps insertion order, and a stream registered again moves last). */
  private readonly registeredAt = new Map<string, number>();
  /** The registry's key: where a registration goes (and what a timed-out one waited on). */
  readonly registry: string;

  constructor(
    private readonly redis: Redis | Cluster,
    namespace: string,
    private readonly ack?: ReplicaAck,
    private readonly maxRemembered = MAX_REMEMBERED_STREAMS,
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

  /** Whether the registry holds any of `units` (one command). */
  async anyRegistered(units: string[]): Promise<boolean> {
    const scores = await this.redis.zmscore(this.registry, ...units);
    return scores.some((score) => score !== null);
  }

  /** Forgets that a stream was registered: the next append registers it first. */
  forget(stream: string): void {
    this.registeredAt.delete(stream);
  }

  private async register(stream: string): Promise<void> {
    const sentAt = performance.now();
    await registerStream(this.redis, this.registry, stream, this.ack);
    this.registeredAt.delete(stream);
    if (this.registeredAt.size >= this.maxRemembered) this.forgetOldest(sentAt);
    this.registeredAt.set(stream, sentAt);
  }

  /**
   * Full: forgets every stream whose registration is past the refresh (remembering it saves
   * nothing), and at least the oldest one, so the streams written most recently stay remembered.
   */
  private forgetOldest(now: number): void {
    for (const [stream, at] of this.registeredAt) {
      if (now - at < STREAM_REGISTRATION_REFRESH_MS && this.registeredAt.size < this.maxRemembered) return;
      this.registeredAt.delete(stream);
    }
  }
}
