/**
 * A setting that may differ by stream (STREAM_SHARDS, OUTPUT_FORMAT): one value for every stream,
 * or `stream:value` entries, with `*:value` for the rest.
 */
export interface PerStream<T> {
  default: T;
  streams: ReadonlyMap<string, T>;
}

export function forStream<T>(setting: PerStream<T>, stream: string): T {
  return setting.streams.get(stream) ?? setting.default;
}
