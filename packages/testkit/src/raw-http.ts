import { once } from 'node:events';
import { connect } from 'node:net';

export interface RawConnection {
  /** All that came back on the connection so far. */
  answer(): string;
  /** Resolves when the connection has ended, from either side. */
  closed: Promise<void>;
}

/**
 * A connection to the HTTP server at `url` that has sent `text` as is and then sends nothing more:
 * a request half sent, or a whole one to be answered. For what no HTTP client will send.
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
  socket.write(text);
  return { answer: () => received, closed };
}
