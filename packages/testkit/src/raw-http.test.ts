import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { sendRawHttp } from './raw-http.js';

describe('sendRawHttp: readByServer', () => {
  it('waits until the server has read what was sent, and not before', async () => {
    // Accepted, but not read until resumed: what a server busy elsewhere does.
    const server = createServer({ pauseOnConnect: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const { port } = server.address() as { port: number };
    const half = await sendRawHttp(`http://127.0.0.1:${port}`, 'GET / HTTP/1.1\r\nHost: x\r\n');
    const [socket] = await accepted;
    try {
      await expect(half.readByServer(500)).rejects.toThrow(`the server on port ${port} to read`);
      const read = once(socket, 'data');
      socket.resume();
      await read;
      await half.readByServer(5_000);
    } finally {
      socket.destroy();
      server.close();
    }
  });
});
