import { streamLabeler } from '@spool/shared';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The ingest's Prometheus metrics, on a registry of its own (several apps may share a process in tests). */
export function createIngestMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'spool_ingest_' });
  return {
    registry,
    streamLabel: streamLabeler(),
    requests: new Counter({
      name: 'spool_ingest_requests_total',
      help: 'Event requests answered, by API (native or tracking, the Segment-compatible one) and HTTP status',
      labelNames: ['api', 'status'] as const,
      registers: [registry],
    }),
    events: new Counter({
      name: 'spool_ingest_events_total',
      help: 'Events accepted (stored in Redis) or rejected, by stream',
      labelNames: ['stream', 'outcome'] as const,
      registers: [registry],
    }),
    bytes: new Counter({
      name: 'spool_ingest_bytes_total',
      help: 'Bytes appended to buffers, by stream',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    appendSeconds: new Histogram({
      name: 'spool_ingest_append_duration_seconds',
      help: 'Time of one append round trip to Redis (one group of requests)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    groupSize: new Histogram({
      name: 'spool_ingest_append_group_requests',
      help: 'Requests that shared one append round trip (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
    bufferBytes: new Gauge({
      name: 'spool_buffer_bytes',
      help: 'Length of the active buffer after the latest append seen by this instance, by stream',
      labelNames: ['stream'] as const,
      registers: [registry],
    }),
    flushJobsEnqueued: new Counter({
      name: 'spool_ingest_flush_jobs_enqueued_total',
      help: 'Flush jobs added because an append crossed FLUSH_THRESHOLD_BYTES',
      registers: [registry],
    }),
    failures: new Counter({
      name: 'spool_ingest_failures_total',
      help: 'Failed Redis operations, by operation',
      labelNames: ['operation'] as const,
      registers: [registry],
    }),
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
