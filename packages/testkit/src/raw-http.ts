import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { waitFor } from './wait.js';

export interface RawConnection {
  /** All that came back on the connection so far. */
  answer(): string;
  /** Resolves when the connection has ended, from either side. */
  closed: Promise<void>;
  /**
   * Resolves once the server's process has read all that was sent: its end of the connection has
   * nothing left in the kernel's receive queue. A request half sent gets no answer, so nothing
   * else shows that the server has taken it in; a server that has not is free to drop the
   * connection as idle, and a test of what it does with half a request would pass untested.
   */
  readByServer(timeoutMs?: number): Promise<void>;
  /** Sends more: the rest of a request half sent. */
  write(text: string): void;
}

/**
 * A connection to the HTTP server at `url` that has sent `text` as is and then sends nothing more
 * unless told (`write`): a request half sent, or a whole one to be answered. For what no HTTP
 * client will send.
 */
export async function sendRawHttp(url: string, text: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  let received = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => {
    received += chunk;
  });
  // Taken before the write, so an answer and close that come at once are not missed. A reset
  // from the server ends it as well as a FIN does: what the tests look at is what was answered.
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  // Handed to the kernel: from then on, an empty receive queue on the server's end means read.
  const written = new Promise<void>((resolve) => socket.write(text, () => resolve()));
  const ends = { server: Number(socket.remotePort), client: Number(socket.localPort) };
  return {
    answer: () => received,
    closed,
    write: (more) => {
      socket.write(more);
    },
    readByServer: async (timeoutMs = 30_000) => {
      await written;
      await waitFor(
        async () => ((await serverReceiveQueue(ends)) === 0 ? true : undefined),
        timeoutMs,
        `the server on port ${ends.server} to read what was sent on it`,
      );
    },
  };
}

/**
 * The bytes waiting in the kernel for the server's end of a loopback connection (Linux's
 * /proc/net/tcp and tcp6: the end whose local port is the server's and remote port the client's),
 * or undefined while the kernel lists no such end.
 */
async function serverReceiveQueue(ends: { server: number; client: number }): Promise<number | undefined> {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue ..., ports in hex after the last ':'
      const [, local, remote, , queues] = line.trim().split(/\s+/);
      if (local === undefined || remote === undefined || queues === undefined) continue;
      const portOf = (address: string) => Number.parseInt(address.slice(address.lastIndexOf(':') + 1), 16);
      if (portOf(local) === ends.server && portOf(remote) === ends.client) {
        return Number.parseInt(queues.slice(queues.indexOf(':') + 1), 16);
      }
    }
  }
  return undefined;
}
