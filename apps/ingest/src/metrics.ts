import { keyFileReadOkGauge, streamLabeler } from '@spool/shared';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type IngestApi = 'native' | 'tracking';

/** What became of one request's events. */
export interface EventOutcomes {
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Not stored: the request's client was gone once it had waited past half DEDUPE_WINDOW (abandoned-requests.ts). */
  abandoned: number;
}

type CounterChild = ReturnType<Counter<string>['labels']>;

/**
 * The value of `make(key)`, made once per key: prom-client hashes a label set on every `inc`,
 * and the request path counts on every request. Keys are bounded (statuses; streams capped by
 * streamLabeler).
 */
function cachedBy<T>(make: (key: string) => T): ((key: string) => T) & { forget(key: string): void } {
  const made = new Map<string, T>();
  const cached = (key: string) => {
    let value = made.get(key);
    if (value === undefined) {
      value = make(key);
      made.set(key, value);
    }
    return value;
  };
  return Object.assign(cached, { forget: (key: string) => made.delete(key) });
}

/**
 * The ingest's Prometheus metrics, on a registry of its own (several apps may share a process in
 * tests). `streamIdleAfterMs`: how long a stream goes uncounted before its label may go to another
 * (streamLabeler); never, when unset.
 */
export function createIngestMetrics({ streamIdleAfterMs }: { streamIdleAfterMs?: number } = {}) {
  let readInflightBodies = () => 0;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'spool_ingest_' });
  const metrics = {
    registry,
    streamLabel: streamLabeler({
      idleAfterMs: streamIdleAfterMs,
      registry,
      onFree: (stream) => outcomeCounters.forget(stream),
    }),
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
    keyFileReadOk: keyFileReadOkGauge(registry),
    flusherSeen: new Gauge({
      name: 'spool_ingest_flusher_seen',
      help: "1 while a flusher runs on this ingest's REDIS_NAMESPACE (the mark each flusher sets at every sweep tick), 0 once none has for 5 minutes",
      registers: [registry],
    }),
    inflightBodyBytes: new Gauge({
      name: 'spool_ingest_inflight_body_bytes',
      help: 'Bytes of request bodies held until answered, against MAX_INFLIGHT_BYTES',
      registers: [registry],
      collect() {
        this.set(readInflightBodies());
      },
    }),
  };

  const requestCounters = cachedBy<CounterChild>((key) => {
    const [api, status] = key.split(' ') as [string, string];
    return metrics.requests.labels({ api, status });
  });
  const outcomeCounters = cachedBy(
    (label): Record<keyof EventOutcomes, CounterChild> => ({
      accepted: metrics.events.labels({ stream: label, outcome: 'accepted' }),
      duplicates: metrics.events.labels({ stream: label, outcome: 'duplicate' }),
      rejected: metrics.events.labels({ stream: label, outcome: 'rejected' }),
      abandoned: metrics.events.labels({ stream: label, outcome: 'abandoned' }),
    }),
  );

  return {
    ...metrics,
    /** Where the inflight-body-bytes gauge reads its value at each scrape. */
    watchInflightBodies(read: () => number): void {
      readInflightBodies = read;
    },
    /** One answered request of an event route, by API and status. */
    countRequest(api: IngestApi, statusCode: number): void {
      requestCounters(`${api} ${statusCode}`).inc();
    },
    /** A request's events by outcome, under the stream's label; one that stored none claims no label. */
    countEvents(stream: string, outcomes: Partial<EventOutcomes>): void {
      const stored = (outcomes.accepted ?? 0) + (outcomes.duplicates ?? 0) > 0;
      const counters = outcomeCounters(metrics.streamLabel(stream, stored));
      for (const [outcome, counter] of Object.entries(counters)) {
        const count = outcomes[outcome as keyof EventOutcomes] ?? 0;
        if (count > 0) counter.inc(count);
      }
    },
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
