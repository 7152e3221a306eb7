import { keyFileReadOkGauge, streamLabeler, within } from '@spool/shared';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** How long a scrape waits for the queue's job counts (Redis) before answering without them. */
export const JOB_COUNTS_TIMEOUT_MS = 1_000;

/**
 * The flusher's Prometheus metrics, on a registry of its own. `jobCounts` is asked for the queue
 * depth at each scrape; while Redis is away or hung the scrape answers without that series (it
 * waited on Redis, and failed or never answered: every other series, the failures the alerts
 * watch included, went with it).
 */
export function createFlusherMetrics(
  jobCounts: () => Promise<Record<string, number>> = async () => ({}),
  /** The stream labels' cap and idle time (streamLabeler); the flusher gives the registry's horizon. */
  { maxStreamLabels, streamIdleAfterMs }: { maxStreamLabels?: number; streamIdleAfterMs?: number } = {},
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'spool_flusher_' });
  const metrics = {
    registry,
    streamLabel: streamLabeler({ max: maxStreamLabels, idleAfterMs: streamIdleAfterMs, registry }),
    flushSeconds: new Histogram({
      name: 'spool_flush_duration_seconds',
      help: 'Time to seal, compress, upload and release one generation',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    rawBytes: new Counter({
      name: 'spool_flush_raw_bytes_total',
      help: 'Bytes of NDJSON uploaded (before compression), by stream',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    compressedBytes: new Counter({
      name: 'spool_flush_compressed_bytes_total',
      help: 'Bytes written to S3 (the objects as stored: compressed NDJSON, or Parquet), by stream',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    events: new Counter({
      name: 'spool_flush_events_total',
      help: 'Events landed in S3, by stream',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    objects: new Counter({
      name: 'spool_flush_objects_total',
      help: 'Objects written to S3, by stream',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    parquetFallbacks: new Counter({
      name: 'spool_parquet_fallbacks_total',
      help: 'Parquet generations written without their typed columns, by stream and kind: whole-event (events whose fields cannot be columns written whole, as their text, in an _event column), json-columns (DuckDB refused a typed value: every column text) or text-lines (DuckDB could not parse the JSON, or ran out of memory with the columns: each line stored as text)',
      labelNames: ['stream', 'kind'] as const,
      registers: [registry],
    }),
    failures: new Counter({
      name: 'spool_flush_failures_total',
      help: 'Flush attempts that failed (and will be retried), by stream',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    keyFileReadOk: keyFileReadOkGauge(registry),
    clockOffset: new Gauge({
      name: 'spool_flusher_clock_offset_seconds',
      help: "This flusher's clock minus Redis's (TIME), as of the last sweep: BullMQ dates a failed flush's retry by the flusher's clock, and a flusher ahead of the others runs their retries early",
      registers: [registry],
    }),
    oldestBufferAge: new Gauge({
      name: 'spool_oldest_buffer_age_seconds',
      help: 'Age of the oldest unflushed data (active buffer or sealed generation), as of the last sweep',
      registers: [registry],
    }),
    bufferBytes: new Gauge({
      name: 'spool_buffer_bytes',
      help: 'Length of the active buffer, by stream, as of the last sweep',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    pendingGenerations: new Gauge({
      name: 'spool_sealed_generations',
      help: 'Sealed generations waiting for (or in) upload, by stream, as of the last sweep',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    bufferFillRatio: new Gauge({
      name: 'spool_buffer_fill_ratio',
      help: "Data in Redis (active buffer and sealed generations) against MAX_BUFFER_BYTES, by stream (a sharded stream's fullest shard), as of the last sweep: at 1 the ingest answers 503",
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    countersLost: new Gauge({
      name: 'spool_stream_counters_lost',
      help: '1 when a stream has landed more events than it accepted, as of the last sweep: its counters hash in Redis was lost (a failover to a replica that lacked it), and events may have been lost with it',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    redisAtRisk: new Gauge({
      name: 'spool_redis_at_risk',
      help: "1 when Redis is set up to lose accepted events, as of the last sweep, by reason: 'eviction' (a maxmemory-policy other than noeviction on a master: buffers and dedupe sets may be evicted) or 'aof_off' (a restart loses what is not yet in S3)",
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    redisDataLost: new Counter({
      name: 'spool_redis_data_lost_total',
      help: 'Times this flusher found that Redis lost its data (the count Spool adds to there went back): a restart without AOF or from an older snapshot, a FLUSHALL, or a failover to a replica without the latest writes; what was buffered and not in S3 was lost',
      registers: [registry],
    }),
    flushInterval: new Gauge({
      name: 'spool_flush_interval_seconds',
      help: 'FLUSH_INTERVAL: what the oldest buffer age is measured against',
      registers: [registry],
    }),
    sweeps: new Counter({
      name: 'spool_sweep_ticks_total',
      help: "Sweep ticks by outcome: ran here, failed here (retried next tick), skipped (another flusher had the tick), or lease_failed (Redis refused or did not answer the tick's lease: every flusher counts such a tick)",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    workerReplacements: new Counter({
      name: 'spool_flush_worker_replacements_total',
      help: 'Flush workers replaced because they took no job while jobs waited (a wedged Redis connection, as after a Redis Cluster outage)',
      registers: [registry],
    }),
    queueJobs: new Gauge({
      name: 'spool_queue_jobs',
      help: 'Flush queue jobs by state',
      labelNames: ['state'] as const,
      registers: [registry],
      async collect() {
        const counts = await within(jobCounts(), JOB_COUNTS_TIMEOUT_MS);
        this.reset();
        for (const [state, count] of Object.entries(counts ?? {})) this.set({ state }, count);
      },
    }),
  };
  /** Drops the buffers' gauges the last sweep here set (a complete sweep sets them again at once). */
  const resetSweepGauges = (): void => {
    for (const gauge of [
      metrics.oldestBufferAge,
      metrics.bufferBytes,
      metrics.pendingGenerations,
      metrics.bufferFillRatio,
      metrics.countersLost,
    ]) {
      gauge.reset();
    }
  };
  return {
    ...metrics,
    resetSweepGauges,
    /**
     * Drops everything the sweeps here set, Redis's health too: another flusher sweeps now
     * (flusher.ts), and alerts take the highest of every flusher's (a 1 left here kept
     * SpoolRedisEvicting firing after Redis was fixed, until this flusher restarted).
     */
    forgetSweeps(): void {
      resetSweepGauges();
      metrics.redisAtRisk.reset();
    },
  };
}

export type FlusherMetrics = ReturnType<typeof createFlusherMetrics>;
