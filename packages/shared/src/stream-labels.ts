import type { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What prom-client's registry holds, as its classes are (its type names only their shared part). */
type LabelledMetric = (Counter<string> | Gauge<string> | Histogram<string>) & {
  labelNames?: readonly string[];
};

/**
 * Streams that get a metrics label of their own at once; later ones share `_other`. Stream names
 * come from clients: without a cap, writing to random streams would grow the metrics without bound.
 */
export const MAX_STREAM_LABELS = 1_000;
export const OTHER_STREAMS_LABEL = '_other';

export interface StreamLabelerOptions {
  /** Labels held at once (MAX_STREAM_LABELS). */
  max?: number;
  /**
   * Once every label is held, a new stream takes the label of the stream least recently counted,
   * if that one has not been for so long (ms); its series are removed from `registry`
   * (removeStreamSeries), and `onFree` is told. Never, when unset.
   */
  idleAfterMs?: number;
  registry?: Registry;
  onFree?: (stream: string) => void;
  /** Milliseconds, monotonic (performance.now); a test's own clock. */
  now?: () => number;
}

/**
 * A stream's label. With `claim` false, a stream without one is not given one (`_other`): what
 * only refused events count against, which anyone may name, must not take the streams' labels.
 *
 * Labels of streams idle past `idleAfterMs` go to new streams: before, the first 1,000 names an
 * instance saw kept theirs until it restarted, and where names come and go (a soak's three new
 * streams a second, each written a few times) a stream first written after them was counted
 * under `_other` for good (a review's run, 5.5 minutes after the start). As Vector's
 * `expire_metrics_secs` does for its own series.
 */
export function streamLabeler({
  max = MAX_STREAM_LABELS,
  idleAfterMs = Number.POSITIVE_INFINITY,
  registry,
  onFree = () => {},
  now = () => performance.now(),
}: StreamLabelerOptions = {}): StreamLabeler {
  // When each labelled stream was last counted. Its idlest is looked for only when a new stream
  // finds every label taken, and then not again before `freeAt`, the soonest one can be idle:
  // streams past the cap would each have scanned them all, at every request.
  const lastUsed = new Map<string, number>();
  let freeAt = 0;
  const label = (stream: string, claim = true) => {
    const at = now();
    if (lastUsed.has(stream)) {
      lastUsed.set(stream, at);
      return stream;
    }
    if (!claim) return OTHER_STREAMS_LABEL;
    if (lastUsed.size >= max) {
      if (at < freeAt) return OTHER_STREAMS_LABEL;
      let idlest: string | undefined;
      let idlestAt = Number.POSITIVE_INFINITY;
      for (const [labelled, usedAt] of lastUsed) {
        if (usedAt < idlestAt) [idlest, idlestAt] = [labelled, usedAt];
      }
      if (idlest === undefined || at - idlestAt < idleAfterMs) {
        freeAt = idlestAt + idleAfterMs;
        return OTHER_STREAMS_LABEL;
      }
      lastUsed.delete(idlest);
      if (registry) void removeStreamSeries(registry, idlest, labeler);
      onFree(idlest);
    }
    lastUsed.set(stream, at);
    return stream;
  };
  const labeler = Object.assign(label, { holds: (stream: string) => lastUsed.has(stream) });
  return labeler;
}

/** A stream's label (see streamLabeler), and whether a stream holds one of its own now. */
export type StreamLabeler = ((stream: string, claim?: boolean) => string) & {
  holds(stream: string): boolean;
};

/**
 * Removes every series of `registry` labelled `stream` (prom-client removes a series by its whole
 * label set only: each is found among the metric's values), unless the stream holds a label
 * again by then (`labeler`): a metric's values come after an await, and a stream counted again
 * meanwhile, its label freed and taken back in one turn of the event loop, lost what it had just
 * counted with the rest (a review's run). Metrics with a `collect` are read too, so a registry
 * whose stream-labelled metrics collect must not be given here.
 */
export async function removeStreamSeries(
  registry: Registry,
  stream: string,
  labeler: StreamLabeler,
): Promise<void> {
  const metrics = (registry.getMetricsAsArray() as unknown as LabelledMetric[]).filter((metric) =>
    metric.labelNames?.includes('stream'),
  );
  const valuesOf = await Promise.all(metrics.map(async (metric) => (await metric.get()).values));
  // Then all at once, with no await between the look and the removals.
  if (labeler.holds(stream)) return;
  metrics.forEach((metric, i) => {
    for (const { labels } of valuesOf[i] ?? []) {
      if (labels.stream !== stream) continue;
      // A histogram's buckets carry `le`, which is not one of its label names.
      const { le: _bucket, ...series } = labels;
      metric.remove(series);
    }
  });
}
