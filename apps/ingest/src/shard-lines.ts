import { type ClientMessageIds, shardOfMessageId } from '@spool/shared';

/** A request's lines as the group commit takes them (see toLines). */
export interface ShardableLines {
  /** The lines, each ending in "\n". */
  parts: readonly string[];
  clientIds: ClientMessageIds;
}

/** One shard's part of a request: its lines, joined, and the client ids among them. */
export interface ShardPart {
  shard: number;
  text: string;
  count: number;
  bytes: number;
  clientIds: ClientMessageIds;
}

/**
 * Splits a request's lines among a stream's `shards` shards. A line with a client messageId goes
 * to the shard of that id (so its retries meet it, and dedupe holds); the lines whose messageId
 * the server generated need no dedupe and all go to `spareShard`, so a request without ids costs
 * one append. Line order is kept within each shard. O(lines).
 */
export function splitByShard(lines: ShardableLines, shards: number, spareShard: number): ShardPart[] {
  const byShard = new Map<number, { parts: string[]; clientIds: ClientMessageIds }>();
  const partOf = (shard: number) => {
    let part = byShard.get(shard);
    if (!part) {
      part = { parts: [], clientIds: { ids: [], lines: [] } };
      byShard.set(shard, part);
    }
    return part;
  };
  const { ids, lines: idLines } = lines.clientIds;
  let nextId = 0;
  for (let line = 0; line < lines.parts.length; line++) {
    const id = idLines[nextId] === line ? ids[nextId++] : undefined;
    const part = partOf(id === undefined ? spareShard : shardOfMessageId(id, shards));
    if (id !== undefined) {
      part.clientIds.ids.push(id);
      part.clientIds.lines.push(part.parts.length);
    }
    part.parts.push(lines.parts[line] as string);
  }
  return [...byShard].map(([shard, { parts, clientIds }]) => {
    const text = parts.join('');
    return { shard, text, count: parts.length, bytes: Buffer.byteLength(text), clientIds };
  });
}
