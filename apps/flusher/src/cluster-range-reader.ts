import { keySlot } from '@spool/shared';
import type { Cluster } from 'ioredis';
import { RangeReader, RedisErrorReply } from './range-reader.js';

/** As ioredis's `maxRedirections`: a slot bouncing longer than this is a broken cluster. */
const MAX_REDIRECTIONS = 16;

/** `MOVED <slot> <host>:<port>` or `ASK <slot> <host>:<port>`: where a slot (or one key of it) now is. */
function redirection(error: unknown): { kind: 'MOVED' | 'ASK'; node: string } | undefined {
  if (!(error instanceof RedisErrorReply)) return undefined;
  const [kind, , node] = error.reply.split(' ');
  return (kind === 'MOVED' || kind === 'ASK') && node ? { kind, node } : undefined;
}

/**
 * RangeReader for a cluster: each GETRANGE goes, over a reader connection of its own, to the
 * master that serves the key's slot in the cluster client's slot map. During a reshard it
 * follows the cluster: `MOVED` (the slot has moved: the map is refreshed and the read sent
 * there) and `ASK` (this key of a migrating slot is already on the target: the read is sent
 * there once, after ASKING). Reads are idempotent, so repeating one elsewhere is safe.
 */
export class ClusterRangeReader {
  /** One reader per node, by `host:port`, opened when first needed. */
  private readonly readers = new Map<string, Promise<RangeReader>>();
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly name = 'spool-flusher-reader',
  ) {}

  async getrange(key: string, start: number, end: number, target: Buffer): Promise<Buffer> {
    let node = this.cluster.slots[keySlot(key)]?.[0];
    let asking = false;
    for (let redirections = 0; ; redirections += 1) {
      if (!node) throw new Error(`no cluster node serves the slot of ${key} (is the cluster down?)`);
      try {
        return await (await this.reader(node)).getrange(key, start, end, target, asking);
      } catch (error) {
        const to = redirection(error);
        if (!to || redirections >= MAX_REDIRECTIONS) throw error;
        // MOVED: the slot is elsewhere for good, so the client's map is stale too.
        if (to.kind === 'MOVED') this.cluster.refreshSlotsCache();
        node = to.node;
        asking = to.kind === 'ASK';
      }
    }
  }

  close(): void {
    this.closed = true;
    for (const reader of this.readers.values()) reader.then((r) => r.close()).catch(() => {});
    this.readers.clear();
  }

  private reader(node: string): Promise<RangeReader> {
    if (this.closed) return Promise.reject(new Error('range reader closed'));
    let reader = this.readers.get(node);
    if (!reader) {
      const colon = node.lastIndexOf(':');
      reader = RangeReader.connect(
        {
          ...this.cluster.options.redisOptions,
          host: node.slice(0, colon),
          port: Number(node.slice(colon + 1)),
        },
        this.name,
      );
      // A reader that failed (its node gone) is dropped, so a later read connects again.
      reader.catch(() => this.readers.delete(node));
      this.readers.set(node, reader);
    }
    return reader;
  }
}
