/**
 * Gives a buffer's memory back at once, rather than at V8's next full collection: a flush's
 * buffers of megabytes live long enough to be promoted, and waited for one there while the next
 * step of the flush (DuckDB's COPY, the upload) allocated its own, which put the flusher's peak
 * some 20-30 MiB higher (docs/benchmarks.md, k). Detaches the buffer's ArrayBuffer
 * (`transfer(0)`): every view of it is then empty. Only for a buffer that nothing reads again and
 * that owns its whole ArrayBuffer (`Buffer.allocUnsafe` of 4 KiB and more), never a slice of
 * Node's shared pool; any other is left to the collector.
 */
export function freeNow(buffer: Buffer): void {
  const memory = buffer.buffer;
  if (!(memory instanceof ArrayBuffer) || memory.detached) return;
  if (buffer.byteOffset !== 0 || buffer.byteLength !== memory.byteLength) return;
  memory.transfer(0);
}
