/**
 * Streams that get a metrics label of their own; later ones share `_other`. Stream names come
 * from clients: without a cap, writing to random streams would grow the metrics without bound.
 */
export const MAX_STREAM_LABELS = 1_000;
export const OTHER_STREAMS_LABEL = '_other';

/**
 * A stream's label. With `claim` false, a stream without one is not given one (`_other`): what
 * only refused events count against, which anyone may name, must not take the streams' labels.
 */
export function streamLabeler(max = MAX_STREAM_LABELS): (stream: string, claim?: boolean) => string {
  const labelled = new Set<string>();
  return (stream, claim = true) => {
    if (labelled.has(stream)) return stream;
    if (!claim || labelled.size >= max) return OTHER_STREAMS_LABEL;
    labelled.add(stream);
    return stream;
  };
}
