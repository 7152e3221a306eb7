import { Cluster, Redis } from 'ioredis';
import { BufferPool } from './buffer-pool.js';
import { ClusterRangeReader } from './cluster-range-reader.js';
import { GZIP_PARALLELISM } from './parallel-gzip.js';
import { RangeReader } from './range-reader.js';

const NEWLINE = 0x0a;

/** How much of a sealed buffer is read from Redis at a time. */
export const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/** Chunk buffers in rotation: the one worked on, the one read ahead, and those being compressed. */
export const CHUNK_BUFFERS = GZIP_PARALLELISM + 2;

/** A piece of a sealed buffer. `release()` when done with `data`: its memory is then reused. */
export interface Chunk {
  data: Buffer;
  release(): void;
}

/** A reader of its own for `redis`, or none where reads must go through ioredis (TLS). */
async function openReader(redis: Redis | Cluster): Promise<RangeReader | ClusterRangeReader | undefined> {
  if (redis instanceof Redis && !redis.options.tls) return RangeReader.connect(redis.options);
  if (redis instanceof Cluster && !redis.options.redisOptions?.tls) return new ClusterRangeReader(redis);
  return undefined;
}

/**
 * Reads a sealed buffer in chunks with GETRANGE, never as one string, into a few buffers that are
 * reused as the caller releases them (over a connection of its own, see RangeReader): memory
 * stays bounded by those buffers whatever the sealed buffer's size, and reading makes no garbage.
 * The next chunk is already on its way while the caller works on this one. A sealed key never
 * changes, so reading it in pieces is consistent. In a cluster, the reads go to the node that
 * serves the key's slot (see ClusterRangeReader). (Through TLS it reads through ioredis instead,
 * without the reuse.) A buffer that does not end in "\n" ends in one as read.
 */
export async function* readSealed(
  redis: Redis | Cluster,
  key: string,
  length: number,
  chunkBytes = READ_CHUNK_BYTES,
): AsyncGenerator<Chunk> {
  const reader = length > 0 ? await openReader(redis) : undefined;
  const pool = new BufferPool(CHUNK_BUFFERS, chunkBytes);
  const read = async (start: number): Promise<Chunk> => {
    const end = Math.min(start + chunkBytes, length) - 1;
    const buffer = reader ? await pool.take() : undefined;
    const release = () => buffer && pool.give(buffer);
    let data: Buffer;
    try {
      data = reader
        ? await reader.getrange(key, start, end, buffer as Buffer)
        : await redis.getrangeBuffer(key, start, end);
    } catch (error) {
      release();
      throw error;
    }
    if (data.length !== end - start + 1) {
      release();
      throw new Error(
        `sealed buffer ${key} is shorter than its sealed length ${length} (read ${start + data.length})`,
      );
    }
    let released = false;
    return {
      data,
      release: () => {
        if (!released) release();
        released = true;
      },
    };
  };
  try {
    let next = length > 0 ? read(0) : undefined;
    for (let start = 0; next; start += chunkBytes) {
      const chunk = await next;
      next = start + chunkBytes < length ? read(start + chunkBytes) : undefined;
      // If the caller stops early, the read ahead is dropped: its failure is nobody's to handle.
      next?.catch(() => {});
      // Read before the caller may release (and the pool reuse) the chunk's buffer.
      const unterminated = !next && chunk.data.at(-1) !== NEWLINE;
      yield chunk;
      // A buffer written by hand may end without its "\n": every object is whole lines, and the
      // last one is an event (counted 0 before, a buffer of one such line was released unwritten).
      if (unterminated) yield { data: Buffer.from('\n'), release: () => {} };
    }
  } finally {
    reader?.close();
    pool.close();
  }
}
